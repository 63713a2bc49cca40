// The side panel's runs list: status, name, start time, duration, step counts, waiting and
// live markers. Fields a server does not send yet (started_at, duration_s) fall back to
// created_ts / ended_ts, or are left out.
import { formatDuration, formatStart, isTerminal } from '../model/state';
import { IRunSummary } from '../runsApi';
import { h } from '../views/dom';

export function badge(status: string): HTMLElement {
  const b = h('span', `sgr-Panel-badge sgr-Panel-status-${status.toLowerCase()}`, status.replace(/_/g, ' '));
  b.dataset.status = status;
  return b;
}

/** Start time, duration and counts of a run, as one meta line. */
export function runMeta(r: IRunSummary, nowS: number = Date.now() / 1000): string {
  const start = r.started_at ?? r.created_ts ?? null;
  let dur = r.duration_s ?? null;
  if (dur === null && start !== null) {
    dur = (r.ended_ts ?? (isTerminal(r.status) ? null : nowS)) !== null ? (r.ended_ts ?? nowS) - start : null;
  }
  const parts: string[] = [];
  if (start !== null) {
    parts.push(`started ${formatStart(start)}`);
  }
  if (dur !== null) {
    parts.push(isTerminal(r.status) ? `took ${formatDuration(dur)}` : `${formatDuration(dur)} so far`);
  }
  const committed = r.steps_committed;
  parts.push(
    committed !== undefined && committed !== r.steps_done
      ? `${committed}/${r.steps_total} steps committed (${r.steps_done} done)`
      : `${r.steps_done}/${r.steps_total} steps`
  );
  return parts.join(' · ');
}

export function runsList(root: string, runs: IRunSummary[], open: (runId: string) => void): HTMLElement[] {
  const list = h('ul', 'sgr-Panel-runs');
  for (const r of runs) {
    const li = h(
      'li',
      'sgr-Panel-run',
      null,
      badge(r.status),
      h('span', 'sgr-Panel-name', r.name || r.run_id),
      h('span', 'sgr-Panel-meta sgr-Panel-when', runMeta(r)),
      h('span', 'sgr-Panel-meta sgr-Panel-id', r.run_id),
      r.waiting.length ? h('span', 'sgr-Panel-waiting', `waiting: ${r.waiting.join(', ')}`) : null,
      r.live ? h('span', 'sgr-Panel-live', r.live === 'here' ? 'live here' : 'live in a kernel') : null
    );
    li.dataset.runId = r.run_id;
    li.addEventListener('click', () => open(r.run_id));
    list.appendChild(li);
  }
  const empty = runs.length ? null : h('p', 'sgr-Panel-empty', 'No runs yet: run a %%sgr cell.');
  return [h('div', 'sgr-Panel-root', root), list, empty ?? h('span', '')];
}
