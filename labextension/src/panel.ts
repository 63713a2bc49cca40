// The "Agent runs" side panel: every run in the store (live), one run's DAG, timeline and step
// I/O, and approve / deny / cancel / resume / export, all through the server extension's REST
// API under /sgr/api/v1/ (sgr_jupyter/server). The kernel describes, the panel displays: the
// DAG text comes from the server (plan_to_mermaid), the panel only renders it.
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IMermaidManager } from '@jupyterlab/mermaid';
import { listIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import {
  ApiError,
  IArtifactRef,
  INLINE_IMAGES,
  IRunDetail,
  IRunSummary,
  ISteered,
  RunsApi
} from './runsApi';

/** The panel's DOM id; browser tests click `.lm-TabBar-tab[data-id=…]`. */
export const PANEL_ID = 'sgr-runs-panel';
const POLL_MS = 1500;
const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'ABORTED']);

/** Create an element with a class, text and children. */
function h(
  tag: string,
  cls: string,
  text?: string | null,
  ...children: (HTMLElement | null)[]
): HTMLElement {
  const el = document.createElement(tag);
  if (cls) {
    el.className = cls;
  }
  if (text) {
    el.textContent = text;
  }
  for (const c of children) {
    if (c) {
      el.appendChild(c);
    }
  }
  return el;
}

/** How the panel steers a run that another process writes (one writer per run, ADR 011). */
const ELSEWHERE =
  'Live in another process (a notebook kernel?): approve, deny and cancel are sent to it ' +
  "through the run's inbox, and it records and applies them.";

/** What the panel says after steering a run live in another process. */
function posted(what: string, r: ISteered): string {
  if (r.applied) {
    return `${what}: sent to the running notebook… applied.`;
  }
  return (
    `${what}: sent to the running notebook, not applied yet: it applies it when it next ` +
    'reads its inbox (or when the run is resumed).'
  );
}

function button(
  label: string,
  cls: string,
  onClick: () => void,
  disabledWhy: string | null = null
): HTMLElement {
  const b = h('button', `jp-Button sgr-Panel-button ${cls}`, label) as HTMLButtonElement;
  if (disabledWhy) {
    b.disabled = true;
    b.title = disabledWhy;
  }
  b.addEventListener('click', e => {
    e.stopPropagation();
    onClick();
  });
  return b;
}

function badge(status: string): HTMLElement {
  return h('span', `sgr-Panel-badge sgr-Panel-status-${status.toLowerCase()}`, status);
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null';
}

/** The side panel widget: a runs list, or one run's detail. */
export class RunsPanel extends Widget {
  private api = new RunsApi();
  private selected: string | null = null;
  /** A steering request in flight: its buttons stay disabled across polls (no double send). */
  private busy = false;
  private timer = 0;
  private lastDag = '';
  private blobs = new Map<string, Promise<string>>();
  private readonly message = h('div', 'sgr-Panel-message');
  private readonly body = h('div', 'sgr-Panel-body');

  constructor(private readonly mermaid: IMermaidManager | null) {
    super();
    this.id = PANEL_ID;
    this.addClass('sgr-Panel');
    this.title.icon = listIcon;
    this.title.caption = 'Agent runs (sgr)';
    this.node.append(h('div', 'sgr-Panel-header', 'Agent runs'), this.message, this.body);
  }

  protected onAfterShow(): void {
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), POLL_MS);
  }

  protected onAfterHide(): void {
    window.clearInterval(this.timer);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  /** Re-read what is shown (list or detail) from the server. */
  async refresh(): Promise<void> {
    try {
      if (this.selected) {
        this.showDetail(await this.api.get<IRunDetail>('runs', this.selected));
      } else {
        const data = await this.api.get<{ root: string; runs: IRunSummary[] }>('runs');
        this.showList(data.root, data.runs);
      }
    } catch (e) {
      this.say(e);
    }
  }

  private say(e: unknown): void {
    const err = e as ApiError;
    this.clearMessage();
    this.message.textContent = err?.message ?? String(e);
    if (err?.hint) {
      this.message.textContent += ` (${err.hint})`;
    }
    this.message.classList.add('sgr-mod-error');
  }

  private inform(text: string, pending = false): void {
    this.clearMessage();
    this.message.textContent = text;
    this.message.classList.add(pending ? 'sgr-mod-pending' : 'sgr-mod-info');
  }

  private clearMessage(): void {
    this.message.textContent = '';
    this.message.classList.remove('sgr-mod-error', 'sgr-mod-info', 'sgr-mod-pending');
  }

  /** Approve / deny / cancel / resume; `what` names it in the feedback ("approve publish"). */
  private async act(
    what: string,
    s: IRunSummary,
    action: string,
    body: Record<string, unknown>
  ): Promise<void> {
    if (this.busy) {
      return;
    }
    this.busy = true;
    if (s.live === 'elsewhere') {
      // The server waits (briefly) for that process to record it: say so meanwhile.
      this.inform(`${what}: sending to the running notebook…`, true);
    }
    try {
      const r = await this.api.post<ISteered>(body, 'runs', s.run_id, action);
      if (r.delivered === 'posted') {
        this.inform(posted(what, r));
      } else {
        this.clearMessage();
      }
    } catch (e) {
      this.say(e);
    } finally {
      this.busy = false;
    }
    await this.refresh();
  }

  private open(runId: string | null): void {
    this.selected = runId;
    this.lastDag = '';
    this.body.textContent = '';
    this.clearMessage();
    void this.refresh();
  }

  // ------------------------------------------------------------ list

  private showList(root: string, runs: IRunSummary[]): void {
    const list = h('ul', 'sgr-Panel-runs');
    for (const r of runs) {
      const li = h(
        'li',
        'sgr-Panel-run',
        null,
        badge(r.status),
        h('span', 'sgr-Panel-name', r.name || r.run_id),
        h('span', 'sgr-Panel-meta', `${r.steps_done}/${r.steps_total} steps · ${r.run_id}`),
        r.waiting.length ? h('span', 'sgr-Panel-waiting', `waiting: ${r.waiting.join(', ')}`) : null,
        r.live ? h('span', 'sgr-Panel-live', r.live === 'here' ? 'live here' : 'live in a kernel') : null
      );
      li.dataset.runId = r.run_id;
      li.addEventListener('click', () => this.open(r.run_id));
      list.appendChild(li);
    }
    const empty = runs.length ? null : h('p', 'sgr-Panel-empty', 'No runs yet: run a %%sgr cell.');
    this.body.replaceChildren(h('div', 'sgr-Panel-root', root), list, empty ?? h('span', ''));
  }

  // ------------------------------------------------------------ detail

  private showDetail(d: IRunDetail): void {
    const s = d.summary;
    const open = !TERMINAL.has(s.status);
    const elsewhere = s.live === 'elsewhere' ? ELSEWHERE : null;
    const sending = this.busy ? 'sending…' : null;
    const actions = h(
      'div',
      'sgr-Panel-actions',
      null,
      button('← Runs', 'sgr-Panel-back', () => this.open(null)),
      open
        ? button('Cancel', 'sgr-Panel-cancel', () => void this.act('cancel', s, 'cancel', {}), sending)
        : null,
      open && !s.live
        ? button('Resume', 'sgr-Panel-resume', () => void this.act('resume', s, 'resume', {}), sending)
        : null,
      button('Export', 'sgr-Panel-export', () => void this.exportRun(s.run_id))
    );
    const head = h(
      'div',
      'sgr-Panel-detailHead',
      null,
      badge(s.status),
      h('span', 'sgr-Panel-name', s.name || s.run_id),
      h('div', 'sgr-Panel-meta', `${s.run_id} · ${s.tokens} tokens · $${s.cost_usd.toFixed(4)}`),
      s.reason ? h('div', 'sgr-Panel-reason', s.reason) : null,
      elsewhere ? h('div', 'sgr-Panel-live sgr-Panel-elsewhere', `${elsewhere} (${s.holder})`) : null
    );
    // Keep the DAG element across polls: re-rendering an unchanged SVG would flicker.
    let dag = this.body.querySelector<HTMLElement>('.sgr-Panel-dag');
    if (!dag || d.mermaid !== this.lastDag) {
      dag = h('div', 'sgr-Panel-dag');
      this.renderDag(dag, d.mermaid);
      this.lastDag = d.mermaid ?? '';
    }
    this.body.replaceChildren(
      actions,
      head,
      dag,
      h('div', 'sgr-Panel-section', 'Timeline'),
      this.timeline(d),
      h('div', 'sgr-Panel-section', 'Steps'),
      this.steps(d, s, sending)
    );
  }

  private renderDag(el: HTMLElement, text: string | null): void {
    if (!text) {
      el.textContent = 'planning…';
      return;
    }
    if (!this.mermaid) {
      el.appendChild(h('pre', 'sgr-Panel-mermaidText', text));
      return;
    }
    this.mermaid
      .renderSvg(text)
      .then(info => {
        // Lab's SVG starts with an XML prolog (a DOCTYPE declaring &nbsp;, for <img> data
        // URLs) that HTML parsing would show as stray text: keep the <svg> element only.
        // Labels are escaped by the kernel's plan_to_mermaid.
        const at = info.svg.indexOf('<svg');
        el.innerHTML = at >= 0 ? info.svg.slice(at) : info.svg;
      })
      .catch(err => {
        el.replaceChildren(h('pre', 'sgr-Panel-mermaidText', `${err}\n\n${text}`));
      });
  }

  private timeline(d: IRunDetail): HTMLElement {
    const steps = d.view.steps.filter(s => s.started_ts !== null);
    const t0 = d.view.created_ts ?? Math.min(...steps.map(s => s.started_ts as number));
    const now = Date.now() / 1000;
    const t1 = Math.max(d.view.ended_ts ?? now, ...steps.map(s => s.ended_ts ?? now));
    const span = Math.max(t1 - t0, 1e-3);
    const box = h('div', 'sgr-Panel-timeline');
    for (const s of steps) {
      const start = ((s.started_ts as number) - t0) / span;
      const end = ((s.ended_ts ?? now) - t0) / span;
      const bar = h('div', `sgr-Panel-bar sgr-Panel-status-${s.status.toLowerCase()}`);
      bar.style.marginLeft = `${(start * 100).toFixed(2)}%`;
      bar.style.width = `${Math.max((end - start) * 100, 0).toFixed(2)}%`;
      bar.title = `${s.id}: ${s.status}${s.duration_s !== null ? `, ${s.duration_s.toFixed(2)} s` : ''}`;
      const track = h('div', 'sgr-Panel-track', null, bar);
      box.appendChild(h('div', 'sgr-Panel-lane', null, h('span', 'sgr-Panel-laneLabel', s.id), track));
    }
    return box;
  }

  private steps(d: IRunDetail, s: IRunSummary, sending: string | null): HTMLElement {
    const inputs = new Map((d.view.plan?.steps ?? []).map(p => [p.id, p.inputs]));
    const list = h('div', 'sgr-Panel-steps');
    for (const st of d.view.steps) {
      const waiting = s.waiting.includes(st.id);
      const summary = h(
        'summary',
        'sgr-Panel-stepHead',
        null,
        badge(st.status),
        h('span', 'sgr-Panel-stepId', st.id),
        h('span', 'sgr-Panel-meta', `${st.skill} · attempt ${st.attempts}`),
        waiting
          ? button(
              'Approve',
              'sgr-Panel-approve',
              () => void this.act(`approve ${st.id}`, s, 'approve', { step: st.id, resume: true }),
              sending
            )
          : null,
        waiting
          ? button(
              'Deny',
              'sgr-Panel-deny',
              () => void this.act(`deny ${st.id}`, s, 'deny', { step: st.id, resume: true }),
              sending
            )
          : null
      );
      const item = h(
        'details',
        'sgr-Panel-step',
        null,
        summary,
        inputs.has(st.id) ? h('pre', 'sgr-Panel-io', `inputs: ${json(inputs.get(st.id))}`) : null,
        st.output ? h('pre', 'sgr-Panel-io', `output: ${json(st.output)}`) : null,
        this.artifacts(s.run_id, st.output),
        st.error ? h('pre', 'sgr-Panel-error', st.error) : null,
        st.reason && !st.error ? h('div', 'sgr-Panel-reason', st.reason) : null,
        h(
          'div',
          'sgr-Panel-meta',
          `${st.usage.tokens} tokens · ${st.usage.llm_calls} LLM calls` +
            (st.duration_s !== null ? ` · ${st.duration_s.toFixed(2)} s` : '')
        )
      );
      item.dataset.stepId = st.id;
      list.appendChild(item);
    }
    // Keep open <details> open across polls.
    const open = new Set(
      Array.from(this.body.querySelectorAll<HTMLDetailsElement>('details.sgr-Panel-step[open]')).map(
        e => e.dataset.stepId
      )
    );
    list.querySelectorAll<HTMLDetailsElement>('details.sgr-Panel-step').forEach(e => {
      e.open = open.has(e.dataset.stepId);
    });
    return list;
  }

  /** Images inline, other artifacts as downloads; fetched once (with auth) and cached. */
  private artifacts(runId: string, output: unknown): HTMLElement | null {
    const refs: IArtifactRef[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) {
        v.forEach(walk);
      } else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (typeof o.sha256 === 'string' && typeof o.media_type === 'string') {
          refs.push(o as unknown as IArtifactRef);
        }
        Object.values(o).forEach(walk);
      }
    };
    walk(output);
    if (!refs.length) {
      return null;
    }
    const box = h('div', 'sgr-Panel-artifacts');
    for (const ref of refs) {
      const image = INLINE_IMAGES.has(ref.media_type);
      const el = image ? document.createElement('img') : h('a', 'sgr-Panel-artifact', ref.name);
      el.title = `${ref.name} (${ref.media_type}, ${ref.size} bytes)`;
      box.appendChild(el);
      void this.blobUrl(runId, ref.sha256).then(url => {
        if (el instanceof HTMLImageElement) {
          el.src = url;
          el.className = 'sgr-Panel-image';
        } else {
          (el as HTMLAnchorElement).href = url;
          (el as HTMLAnchorElement).download = ref.name;
        }
      });
    }
    return box;
  }

  private blobUrl(runId: string, sha: string): Promise<string> {
    let url = this.blobs.get(sha);
    if (!url) {
      url = this.api
        .fetch('runs', runId, 'artifacts', sha)
        .then(r => r.blob())
        .then(b => URL.createObjectURL(b));
      this.blobs.set(sha, url);
    }
    return url;
  }

  private async exportRun(runId: string): Promise<void> {
    try {
      const data = await this.api.get<unknown>('runs', runId, 'export');
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = `sgr-${runId}.json`;
      a.click();
      URL.revokeObjectURL(a.href);
    } catch (e) {
      this.say(e);
    }
  }
}

export const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'sgr-jupyter:runs-panel',
  description: 'A side panel listing sgr agent runs, with their DAG, timeline and approvals.',
  autoStart: true,
  optional: [IMermaidManager, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    mermaid: IMermaidManager | null,
    restorer: ILayoutRestorer | null
  ) => {
    const panel = new RunsPanel(mermaid);
    app.shell.add(panel, 'left', { rank: 900 });
    if (restorer) {
      restorer.add(panel, PANEL_ID);
    }
  }
};
