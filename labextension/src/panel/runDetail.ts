// One run in the side panel: actions, head, the shared DAG view, timeline, and steps with
// their progress, failures and artifacts.
import { DagView } from '../dag/dagView';
import { formatDuration } from '../model/state';
import { IArtifactRef, INLINE_IMAGES, IRunDetail, IRunSummary } from '../runsApi';
import { h, json } from '../views/dom';
import { errorView, progressView, streamView } from '../views/steps';
import { badge, runMeta } from './runsList';

/** What the detail view asks of the panel. */
export interface IDetailHost {
  act(what: string, s: IRunSummary, action: string, body: Record<string, unknown>): void;
  blobUrl(runId: string, sha: string): Promise<string>;
}

export function button(
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

/** A run's reason, first line only (its step's failure box has the whole text). */
function firstLine(reason: string): HTMLElement {
  const el = h('div', 'sgr-Panel-reason', reason.split('\n')[0]);
  el.title = reason;
  return el;
}

export function head(s: IRunSummary, elsewhere: string | null): HTMLElement {
  const failed = s.status === 'FAILED' || s.status === 'ABORTED';
  const el = h(
    'div',
    `sgr-Panel-detailHead${failed ? ' sgr-mod-failed' : ''}`,
    null,
    badge(s.status),
    h('span', 'sgr-Panel-name', s.name || s.run_id),
    h('div', 'sgr-Panel-meta', runMeta(s)),
    h('div', 'sgr-Panel-meta', `${s.run_id} · ${s.tokens} tokens · $${s.cost_usd.toFixed(4)}`),
    s.reason ? firstLine(s.reason) : null,
    elsewhere ? h('div', 'sgr-Panel-live sgr-Panel-elsewhere', `${elsewhere} (${s.holder})`) : null
  );
  return el;
}

/** How a step is named to the user: the planner's own step is "planning". */
export function stepName(id: string): string {
  return id === '__plan__' ? 'planning' : id;
}

/** Above this many steps the timeline starts folded (the steps list matters more). */
const FOLD_TIMELINE = 30;

export function timeline(d: IRunDetail): HTMLElement {
  const lanes = timelineLanes(d);
  if (d.view.steps.length <= FOLD_TIMELINE) {
    return lanes;
  }
  const box = h('details', 'sgr-Panel-timelineFold', null, h('summary', '', `${d.view.steps.length} steps`), lanes);
  return box;
}

function timelineLanes(d: IRunDetail): HTMLElement {
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
    box.appendChild(h('div', 'sgr-Panel-lane', null, h('span', 'sgr-Panel-laneLabel', stepName(s.id)), track));
  }
  return box;
}

export function steps(
  host: IDetailHost,
  d: IRunDetail,
  s: IRunSummary,
  sending: string | null,
  openIds: Set<string | undefined>
): HTMLElement {
  const inputs = new Map((d.view.plan?.steps ?? []).map(p => [p.id, p.inputs]));
  const now = Date.now() / 1000;
  const list = h('div', 'sgr-Panel-steps');
  for (const st of d.view.steps) {
    const waiting = s.waiting.includes(st.id);
    const running = st.status === 'RUNNING' && st.started_ts !== null;
    const summary = h(
      'summary',
      'sgr-Panel-stepHead',
      null,
      badge(st.status),
      h('span', 'sgr-Panel-stepId', stepName(st.id)),
      h('span', 'sgr-Panel-meta', `${st.skill} · attempt ${st.attempts}`),
      running ? h('span', 'sgr-Panel-meta sgr-elapsed', formatDuration(now - (st.started_ts as number))) : null,
      waiting
        ? button(
            'Approve',
            'sgr-Panel-approve',
            () => host.act(`approve ${st.id}`, s, 'approve', { step: st.id, resume: true }),
            sending
          )
        : null,
      waiting
        ? button(
            'Deny',
            'sgr-Panel-deny',
            () => host.act(`deny ${st.id}`, s, 'deny', { step: st.id, resume: true }),
            sending
          )
        : null
    );
    const shownInputs = st.inputs ?? inputs.get(st.id);
    const item = h(
      'details',
      `sgr-Panel-step${st.status === 'FAILED' ? ' sgr-mod-failed' : ''}`,
      null,
      summary,
      shownInputs !== undefined ? h('pre', 'sgr-Panel-io', `inputs: ${json(shownInputs)}`) : null,
      st.output ? h('pre', 'sgr-Panel-io', `output: ${json(st.output)}`) : null,
      artifacts(host, s.run_id, st.output),
      st.error_detail ? errorView(st.id, st.error_detail) : st.error ? errorView(st.id, st.error) : null,
      st.reason && !st.error ? h('div', 'sgr-Panel-reason', st.reason) : null,
      h(
        'div',
        'sgr-Panel-meta',
        `${st.usage.tokens} tokens · ${st.usage.llm_calls} LLM calls` +
          (st.duration_s !== null ? ` · ${st.duration_s.toFixed(2)} s` : '')
      )
    );
    item.dataset.stepId = st.id;
    (item as HTMLDetailsElement).open = openIds.has(st.id);
    // A progress bar is shown even when the step is folded: it is what one watches.
    if (st.progress && st.status === 'RUNNING') {
      summary.appendChild(progressView(st.progress));
    }
    list.appendChild(item);
    // What the model is streaming for it, also from a run live in another process.
    const text = st.status === 'RUNNING' ? d.streams?.[st.id] : undefined;
    if (text) {
      const live = streamView(text);
      live.dataset.sgrStream = st.id;
      list.appendChild(live);
    }
  }
  return list;
}

/** Images inline, other artifacts as downloads; fetched once (with auth) and cached. */
function artifacts(host: IDetailHost, runId: string, output: unknown): HTMLElement | null {
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
    void host.blobUrl(runId, ref.sha256).then(url => {
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

/** The run's DAG: one DagView per opened run, kept across polls (no flicker). */
export function dagFor(dag: DagView, d: IRunDetail): HTMLElement {
  void dag.setPlan(d.mermaid).then(() => dag.paint(Object.fromEntries(d.view.steps.map(s => [s.id, s.status]))));
  dag.paint(Object.fromEntries(d.view.steps.map(s => [s.id, s.status])));
  return dag.slot();
}
