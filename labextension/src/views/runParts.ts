// Parts of the run view that are pure functions of the widget's state: the budget meters, the
// timeline and a selected step's detail. The widget only places what these return.
import { IStepError, meter } from '../model/state';
import { h, json } from './dom';
import { errorView } from './steps';

/** One timeline entry as the kernel sends it. */
export interface ITimelineEvent {
  t: number;
  step: string;
  status: string;
  attempt: number;
}

/** A meter per budget with a limit; a label alone for one without a limit that was used. */
export function budgetViews(budget: Record<string, [number, number | null]>): HTMLElement[] {
  const out: HTMLElement[] = [];
  for (const [k, [used, limit]] of Object.entries(budget)) {
    const m = meter(used, limit);
    if (m.percent === null) {
      if (used) {
        out.push(h('div', 'sgr-meter-label', `${k}: ${m.text}`));
      }
      continue;
    }
    const fill = h('div');
    fill.style.width = `${m.percent}%`;
    const bar = h('div', `meter${m.hot ? ' hot' : ''}`, null, fill);
    bar.dataset.sgrMeter = k;
    bar.dataset.sgrPercent = String(m.percent);
    out.push(h('div', 'sgr-meter-label', `${k}: ${m.text}`), bar);
  }
  return out;
}

/** The latest ``limit`` timeline entries; the kernel's planning step reads "planning". */
export function timelineViews(events: ITimelineEvent[], limit = 60): HTMLElement[] {
  return events.slice(-limit).map(e =>
    h(
      'span',
      '',
      `+${e.t.toFixed(2)}s ${e.step === '__plan__' ? 'planning' : e.step} ${e.status}` +
        (e.attempt > 1 ? ` #${e.attempt}` : '')
    )
  );
}

const DETAIL_FIELDS = ['skill', 'status', 'attempts', 'duration_s', 'llm_calls', 'tokens', 'cost_usd', 'capabilities'];

/** A selected step: its figures, its failure, resolved inputs, output and images. */
export function detailViews(d: Record<string, any>, err?: IStepError): HTMLElement[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (!d.id) {
    return [];
  }
  const rows = DETAIL_FIELDS.filter(k => d[k] !== null && d[k] !== undefined && d[k] !== '').map(k =>
    h('div', '', `${k}: ${d[k]}`)
  );
  const imgs = ((d.images as string[]) ?? []).map(src => {
    const i = h('img') as HTMLImageElement;
    i.src = src;
    i.style.maxWidth = '100%';
    return i;
  });
  return [
    h('b', '', `Step ${d.id}`),
    ...rows,
    err ? errorView(d.id, err) : d.error ? errorView(d.id, String(d.error)) : h('span'),
    h('div', 'sgr-h', 'inputs'),
    h('pre', '', json(d.inputs)),
    h('div', 'sgr-h', 'output'),
    h('pre', '', json(d.output)),
    ...imgs
  ];
}
