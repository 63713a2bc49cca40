// Styles shared by the widget and the side panel: the DAG box and its toolbar, progress bars,
// streamed text, failures, the Markdown answer. A string, because the widget's ES module
// cannot load Lab's stylesheets; the panel injects it once (injectSharedCss).
export const SHARED_CSS = `
.sgr-dag{position:relative;min-width:160px;border:1px solid var(--jp-border-color2,#e5e7eb);border-radius:4px;background:var(--jp-layout-color0,#fff)}
.sgr-dag-bar{display:flex;justify-content:flex-end;gap:3px;padding:3px 4px;border-bottom:1px solid var(--jp-border-color3,#eee);background:var(--jp-layout-color1,#fafafa);border-radius:4px 4px 0 0}
.sgr-dag-btn{font:13px/1 var(--jp-ui-font-family,system-ui,sans-serif);min-width:26px;height:22px;margin:0!important;padding:0 6px;border:1px solid var(--jp-border-color1,#cbd5e1);border-radius:4px;background:var(--jp-layout-color1,#fff);color:var(--jp-ui-font-color1,#222);cursor:pointer;opacity:.9}
.sgr-dag-btn:hover{background:var(--jp-layout-color2,#f1f5f9)}
.sgr-dag-viewport{overflow:hidden;min-height:80px;position:relative}
.sgr-dag-stage{transform-origin:50% 50%}
.sgr-dag-stage g.node{cursor:pointer}
.sgr-dag-empty{padding:24px 12px;color:var(--jp-ui-font-color2,#666)}
.sgr-dag-text{white-space:pre-wrap;margin:0;padding:8px;max-height:400px;overflow:auto}
.sgr-dag.sgr-dag-expanded{position:fixed;inset:0;z-index:10000;border-radius:0;display:flex;flex-direction:column}
.sgr-dag.sgr-dag-expanded .sgr-dag-viewport{flex:1 1 auto;height:auto!important}
.sgr-dag.sgr-dag-expanded .sgr-dag-bar{padding:6px 12px}
.sgr-dag svg .flowchart-link,.sgr-dag svg .edgePath .path{stroke:var(--jp-ui-font-color2,#555)!important}
.sgr-dag svg marker path{fill:var(--jp-ui-font-color2,#555)!important;stroke:var(--jp-ui-font-color2,#555)!important}
.sgr-dag g.node.sgr-sel{filter:drop-shadow(0 0 3px #7c3aed) drop-shadow(0 0 1px #7c3aed)}
.sgr-dag-grid{display:flex;flex-wrap:wrap;gap:2px;padding:6px}
.sgr-cell{width:10px;height:10px;border:1px solid #a1a1aa;background:#f4f4f5;cursor:pointer}
.sgr-cell.sgr-sel{outline:2px solid #7c3aed}
.sgr-progress-row{display:flex;align-items:center;gap:6px;margin:2px 0}
.sgr-progress{flex:0 0 140px;height:8px;border-radius:4px;background:#e5e7eb;overflow:hidden}
.sgr-progress-fill{height:100%;background:#2563eb;transition:width .3s}
.sgr-progress-indeterminate .sgr-progress-fill{width:30%;animation:sgr-indet 1.2s ease-in-out infinite}
@keyframes sgr-indet{0%{margin-left:-30%}100%{margin-left:100%}}
.sgr-progress-msg{font-size:12px;color:var(--jp-ui-font-color2,#555);overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.sgr-elapsed{font-variant-numeric:tabular-nums;color:#1e3a8a}
body[data-jp-theme-light=false] .sgr-elapsed{color:#93c5fd}
.sgr-stream{white-space:pre-wrap;max-height:180px;overflow:auto;margin:2px 0;padding:4px 6px;border-left:3px solid #93c5fd;background:var(--jp-layout-color2,#f8fafc);font:12px/1.35 var(--jp-code-font-family,monospace)}
.sgr-error{border:1px solid #fca5a5;border-left:4px solid #dc2626;background:#fef2f2;color:#7f1d1d;border-radius:4px;padding:6px 8px;margin:4px 0}
.sgr-error-head{display:flex;gap:6px;flex-wrap:wrap;align-items:baseline}
.sgr-error-type{font-weight:600}
.sgr-error-msg{white-space:pre-wrap}
.sgr-error-retry{font-size:12px;margin-top:2px}
.sgr-traceback summary{cursor:pointer;font-size:12px;margin-top:4px}
.sgr-traceback pre{white-space:pre;overflow:auto;max-height:320px;margin:4px 0 0;padding:6px;background:#fff7f7;color:#450a0a;font:12px/1.4 var(--jp-code-font-family,monospace)}
.sgr-answer{margin-top:8px;padding:8px 12px;border-top:1px solid var(--jp-border-color2,#e5e7eb);font-size:14px;line-height:1.5}
.sgr-answer pre{white-space:pre-wrap;background:var(--jp-layout-color2,#f6f8fa);padding:6px 8px;border-radius:4px}
.sgr-answer code{font-family:var(--jp-code-font-family,monospace);font-size:.92em}
.sgr-answer table{border-collapse:collapse}
.sgr-answer th,.sgr-answer td{border:1px solid var(--jp-border-color2,#ddd);padding:2px 8px}
.sgr-answer h1,.sgr-answer h2,.sgr-answer h3{margin:.4em 0 .3em;line-height:1.25}
`;

/** Put the shared styles in the page once (the side panel; the widget embeds its own). */
export function injectSharedCss(doc: Document = document): void {
  if (doc.getElementById('sgr-shared-css')) {
    return;
  }
  const s = doc.createElement('style');
  s.id = 'sgr-shared-css';
  s.textContent = SHARED_CSS;
  doc.head.appendChild(s);
}
