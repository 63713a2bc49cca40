// RunView: the live run widget (anywidget ESM). Kept dependency-free and small: Mermaid
// comes from our labextension (its manager loads our patched flow-only bundle from Jupyter's
// static files, labextension/src/mermaid.ts) or, elsewhere, from the same bundle the kernel
// sends once per page. Never from a CDN.
const CSS = `
.sgr-rv{font:13px/1.4 var(--jp-ui-font-family,system-ui,sans-serif);color:var(--jp-ui-font-color1,#222);border:1px solid var(--jp-border-color2,#ddd);border-radius:6px;padding:8px}
.sgr-rv header{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.sgr-rv .st{font-weight:600;padding:1px 6px;border-radius:4px;background:#eee}
.sgr-rv .cols{display:flex;gap:12px;flex-wrap:wrap}
.sgr-rv .dag{flex:0 1 auto;min-width:160px;min-height:60px;overflow:auto;max-height:520px}
.sgr-rv .side{flex:1 1 260px;min-width:240px}
.sgr-rv .dag g.node{cursor:pointer}
.sgr-rv pre{white-space:pre-wrap;max-height:200px;overflow:auto;background:var(--jp-layout-color2,#f7f7f7);padding:4px;margin:2px 0}
.sgr-rv .meter{height:6px;background:#e5e7eb;border-radius:3px;overflow:hidden}
.sgr-rv .meter>div{height:100%;background:#16a34a}
.sgr-rv .meter.hot>div{background:#dc2626}
.sgr-rv .tl{display:flex;flex-direction:column;gap:1px;max-height:160px;overflow:auto}
.sgr-rv .tl span{font:11px monospace}
.sgr-rv button{margin:2px 4px 2px 0}
.sgr-rv .notice{color:#b91c1c}
.sgr-rv g.node.sgr-sel{filter:drop-shadow(0 0 3px #7c3aed) drop-shadow(0 0 1px #7c3aed)}
.sgr-rv .grid .cell.sgr-sel{outline:2px solid #7c3aed}
.sgr-rv .grid{display:flex;flex-wrap:wrap;gap:2px;max-width:640px}
.sgr-rv .grid .cell{width:10px;height:10px;border:1px solid #a1a1aa;background:#f4f4f5;cursor:pointer}
`;

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}

// The fallback bundle is fetched once per page: each widget imports its own copy of this
// module (a blob: URL per model), so the shared promise lives on globalThis.
async function getMermaid(model) {
  const mgr = globalThis.__sgrMermaidManager;
  if (mgr) return await mgr.getMermaid();
  if (!globalThis.__sgrMermaidBundle) {
    globalThis.__sgrMermaidBundle = new Promise((resolve) => {
      const onMsg = async (msg, buffers) => {
        if (msg?.type === "mermaid-bundle" && buffers?.length) {
          model.off("msg:custom", onMsg);
          const url = URL.createObjectURL(new Blob([buffers[0]], { type: "text/javascript" }));
          try {
            const m = await import(url);
            const mermaid = m.default ?? m.mermaid;
            mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
            resolve(mermaid);
          } catch (e) { console.warn("sgr: mermaid bundle failed", e); resolve(null); }
        } else if (msg?.type === "no-mermaid") { model.off("msg:custom", onMsg); resolve(null); }
      };
      model.on("msg:custom", onMsg);
      model.send({ type: "need-mermaid" });
    });
  }
  return await globalThis.__sgrMermaidBundle;
}

// Mermaid's render is not re-entrant (it measures text in a shared scratch element), so every
// RunView on the page renders through one queue.
function renderOne(mermaid, id, text) {
  const prev = globalThis.__sgrRenderQueue || Promise.resolve();
  const next = prev.catch(() => null).then(() => mermaid.render(id, text));
  globalThis.__sgrRenderQueue = next.catch(() => null);
  return next;
}

const MAX_DAG_NODES = 200;
let seq = 0;
function render({ model, el: root }) {
  const uid = `sgr-${Math.random().toString(36).slice(2)}-${seq++}`; // P5: unique per widget
  const style = el("style"); style.textContent = CSS;
  const box = el("div", { class: "sgr-rv" });
  const title = el("b"), status = el("span", { class: "st" }), reason = el("span");
  const buttons = el("span");
  const dag = el("div", { class: "dag" }), side = el("div", { class: "side" });
  const budget = el("div"), detail = el("div"), tl = el("div", { class: "tl" });
  const log = el("pre"), notice = el("div", { class: "notice" });
  box.append(el("header", {}, title, status, reason, buttons), notice,
    el("div", { class: "cols" }, dag, side));
  side.append(budget, el("div", {}, "Timeline"), tl, detail, log);
  root.append(style, box);
  let nodes = {}; // step id -> svg g
  let renderedText = null;

  // Live colours. The Mermaid text carries a classDef per state (graph/mermaid.py is the one
  // palette); Mermaid 11 writes a node's class styles inline on its shapes, so swapping the
  // class alone would not recolour it: the state's style is applied inline, as Mermaid does.
  let palette = {};
  function paintStates() {
    const states = model.get("states") || {};
    for (const [sid, g] of Object.entries(nodes)) {
      const s = states[sid] || "PENDING";
      if (g.getAttribute("data-sgr-status") === s) continue;
      g.setAttribute("data-sgr-status", s);
      for (const c of [...g.classList]) if (c.startsWith("sgr_")) g.classList.remove(c);
      const cls = `sgr_${s.toLowerCase()}`;
      g.classList.add(cls);
      const style = palette[cls] || {};
      if (g.tagName === "SPAN") { // a cell of the grid drawn for big plans
        g.style.background = style.fill || ""; g.style.borderColor = style.stroke || "";
        continue;
      }
      for (const shape of g.querySelectorAll("rect,path,polygon,circle,ellipse")) {
        if (shape.closest(".label")) continue;
        for (const k of ["fill", "stroke", "stroke-width", "stroke-dasharray"]) {
          if (style[k]) shape.style.setProperty(k, style[k], "important");
          else shape.style.removeProperty(k);
        }
      }
      for (const t of g.querySelectorAll(".label, .nodeLabel, p, span, text")) {
        if (style.color) t.style.setProperty("color", style.color, "important");
        if (style.color && t.tagName === "text") t.style.setProperty("fill", style.color, "important");
      }
    }
  }
  function readPalette(text) {
    palette = {};
    for (const m of text.matchAll(/^\s*classDef (sgr_\w+) (.+)$/gm)) {
      palette[m[1]] = Object.fromEntries(m[2].split(",").map((kv) => kv.split(":").map((x) => x.trim())));
    }
  }
  async function paintDag() {
    const text = model.get("mermaid");
    if (!text || text === renderedText) return paintStates();
    renderedText = text;
    readPalette(text);
    const ids = model.get("nodes") || {};
    if (Object.keys(ids).length > MAX_DAG_NODES) return paintGrid(ids);
    const mermaid = await getMermaid(model);
    if (!mermaid) { dag.replaceChildren(el("pre", {}, text)); return; }
    try {
      const { svg } = await renderOne(mermaid, `${uid}-dag`, text);
      if (text !== model.get("mermaid")) return; // a newer plan arrived meanwhile
      dag.innerHTML = svg; // mermaid's own sanitised output; labels are escaped by the kernel
      const byNode = Object.fromEntries(Object.entries(ids).map(([s, n]) => [n, s]));
      nodes = {};
      for (const g of dag.querySelectorAll("g.node")) {
        const m = /flowchart-(s_[A-Za-z0-9_]+)-\d+$/.exec(g.id || "");
        const sid = m && byNode[m[1]];
        if (sid === undefined || sid === null) continue;
        nodes[sid] = g; g.setAttribute("data-sgr-step", sid);
        g.addEventListener("click", () => model.send({ type: "select", step: sid }));
      }
      dag.setAttribute("data-sgr-rendered", "1");
      paintStates(); markSelected();
    } catch (e) { dag.replaceChildren(el("pre", {}, String(e), "\n", text)); }
  }
  // A Mermaid layout takes about 0.6 s for 200 nodes but seconds for 1,000, blocking the page
  // (bench/ui_bench.py), so a bigger plan is drawn as a grid of steps, one coloured cell each,
  // clickable like nodes.
  function paintGrid(ids) {
    nodes = {};
    const cells = Object.keys(ids).map((sid) => {
      const c = el("span", { class: "cell", title: sid, "data-sgr-step": sid });
      c.addEventListener("click", () => model.send({ type: "select", step: sid }));
      nodes[sid] = c;
      return c;
    });
    dag.replaceChildren(el("div", { class: "grid" }, ...cells));
    dag.setAttribute("data-sgr-rendered", "grid");
    paintStates(); markSelected();
  }
  function paintHeader() {
    title.textContent = model.get("name") || "run";
    status.textContent = model.get("status") || "";
    status.setAttribute("data-sgr-run-status", model.get("status") || "");
    reason.textContent = model.get("reason") || "";
    notice.textContent = model.get("notice") || "";
    buttons.replaceChildren();
    for (const sid of model.get("waiting") || []) {
      const a = el("button", { class: "sgr-approve", "data-step": sid }, `Approve ${sid}`);
      const d = el("button", { class: "sgr-deny", "data-step": sid }, `Deny ${sid}`);
      a.onclick = () => { a.disabled = d.disabled = true; model.send({ type: "approve", step: sid }); };
      d.onclick = () => { a.disabled = d.disabled = true; model.send({ type: "deny", step: sid }); };
      buttons.append(a, d);
    }
  }
  function paintBudget() {
    budget.replaceChildren();
    for (const [k, [used, limit]] of Object.entries(model.get("budget") || {})) {
      if (limit === null || limit === undefined) { if (!used) continue; budget.append(el("div", {}, `${k}: ${used}`)); continue; }
      const frac = Math.min(1, limit ? used / limit : 1);
      const bar = el("div", { class: "meter" + (frac > 0.9 ? " hot" : "") }, el("div", { style: `width:${(frac * 100).toFixed(1)}%` }));
      budget.append(el("div", {}, `${k}: ${used} / ${limit}`), bar);
    }
  }
  function paintTimeline() {
    tl.replaceChildren(...(model.get("timeline") || []).slice(-60).map((e) =>
      el("span", {}, `+${e.t.toFixed(2)}s ${e.step} ${e.status}${e.attempt > 1 ? ` #${e.attempt}` : ""}`)));
    tl.scrollTop = tl.scrollHeight;
  }
  function markSelected() {
    const id = (model.get("detail") || {}).id;
    for (const [sid, n] of Object.entries(nodes)) n.classList.toggle("sgr-sel", sid === id);
  }
  function paintDetail() {
    const d = model.get("detail") || {};
    markSelected();
    if (!d.id) { detail.replaceChildren(); return; }
    const rows = ["skill", "status", "attempts", "duration_s", "llm_calls", "tokens", "cost_usd", "capabilities", "error"]
      .filter((k) => d[k] !== null && d[k] !== undefined && d[k] !== "")
      .map((k) => el("div", {}, `${k}: ${d[k]}`));
    const imgs = (d.images || []).map((src) => el("img", { src, style: "max-width:100%" }));
    detail.replaceChildren(el("b", {}, `Step ${d.id}`), ...rows,
      el("div", {}, "inputs"), el("pre", {}, JSON.stringify(d.inputs, null, 1)),
      el("div", {}, "output"), el("pre", {}, JSON.stringify(d.output, null, 1)), ...imgs);
  }
  function paintLog() {
    const lines = model.get("log") || [];
    log.style.display = lines.length ? "" : "none";
    log.textContent = lines.map((l) => (l.step ? `[${l.step}] ` : "") + l.text).join("\n");
    log.scrollTop = log.scrollHeight;
  }
  const handlers = [
    ["change:mermaid", paintDag], ["change:states", paintStates], ["change:status", paintHeader],
    ["change:waiting", paintHeader], ["change:notice", paintHeader], ["change:reason", paintHeader],
    ["change:budget", paintBudget], ["change:timeline", paintTimeline],
    ["change:detail", paintDetail], ["change:log", paintLog],
  ];
  for (const [ev, fn] of handlers) model.on(ev, fn);
  paintHeader(); paintBudget(); paintTimeline(); paintDetail(); paintLog(); paintDag();
  return () => { for (const [ev, fn] of handlers) model.off(ev, fn); };
}
export default { render };
