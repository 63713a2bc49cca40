// Views of one step's live state, shared by the widget and the side panel: a progress bar with
// its latest message, a ticking elapsed time, the streamed text, and a failure that keeps its
// traceback's lines (collapsible) and says why it was not retried.
import { formatDuration, IProgress, IStepError, progressPercent, tail } from '../model/state';
import { h } from './dom';

/** A progress bar (indeterminate when the fraction is unknown) and the latest message. */
export function progressView(p: IProgress): HTMLElement {
  const pct = progressPercent(p);
  const fill = h('div', 'sgr-progress-fill');
  const bar = h('div', `sgr-progress${pct === null ? ' sgr-progress-indeterminate' : ''}`, null, fill);
  bar.setAttribute('role', 'progressbar');
  if (pct !== null) {
    fill.style.width = `${pct}%`;
    bar.setAttribute('aria-valuenow', String(pct));
    bar.dataset.sgrPercent = String(pct);
  }
  const label = pct === null ? p.message : `${pct.toFixed(0)} %${p.message ? ` · ${p.message}` : ''}`;
  return h('div', 'sgr-progress-row', null, bar, h('span', 'sgr-progress-msg', label));
}

/** "running 12 s" for a running attempt. */
export function elapsedView(seconds: number): HTMLElement {
  const e = h('span', 'sgr-elapsed', formatDuration(seconds));
  e.dataset.sgrSeconds = seconds.toFixed(1);
  return e;
}

/** The tail of what the model streamed for a step (or for planning). */
export function streamView(text: string): HTMLElement {
  const pre = h('pre', 'sgr-stream', tail(text, 14));
  return pre;
}

/** An error known only as text: a Python traceback in it is split off (and folded). */
export function fromText(text: string): IStepError {
  const at = text.indexOf('Traceback (most recent call last):');
  if (at <= 0) {
    return { type: '', message: text };
  }
  return { type: '', message: text.slice(0, at).trim(), traceback: text.slice(at).trimEnd() };
}

/** A failure: type and message at once, the traceback's lines kept in a collapsible block. */
export function errorView(step: string, err: IStepError | string): HTMLElement {
  const e: IStepError = typeof err === 'string' ? fromText(err) : err;
  const head = h(
    'div',
    'sgr-error-head',
    null,
    h('b', '', step ? `${step} failed` : 'failed'),
    e.type ? h('code', 'sgr-error-type', e.type) : null,
    h('span', 'sgr-error-msg', e.message)
  );
  const retry =
    e.retried === false || e.why_not_retried
      ? h('div', 'sgr-error-retry', `Not retried: ${e.why_not_retried || 'the retry policy did not allow it'}`)
      : e.retried
        ? h('div', 'sgr-error-retry', 'Retried; this was the last attempt.')
        : null;
  let tb: HTMLElement | null = null;
  if (e.traceback) {
    // <pre> keeps every line and its indentation; long ones scroll rather than wrap.
    tb = h('details', 'sgr-traceback', null, h('summary', '', 'Traceback'), h('pre', '', e.traceback));
  }
  const box = h('div', 'sgr-error', null, head, retry, tb);
  box.dataset.sgrStep = step;
  return box;
}
