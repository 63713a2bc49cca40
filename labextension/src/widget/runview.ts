// RunView: the live run widget (anywidget). Built by esbuild into one ES module,
// sgr_jupyter/_esm/runview.js (labextension/build-widget.mjs): anywidget imports it from a
// blob: URL, so it cannot import Lab's modules. Mermaid comes from our labextension (a
// global, src/mermaid.ts) or, elsewhere, from the bundle the kernel sends once per page.
// The DAG and state painting are the side panel's (src/dag).
import { DagView } from '../dag/dagView';
import { renderAnswer } from '../markdown';
import {
  disconnectedMessage,
  headerPhase,
  HeartbeatWatch,
  IProgress,
  isTerminal,
  IStepError,
  phaseLabel,
  phaseTone,
  RunClock
} from '../model/state';
import { h } from '../views/dom';
import { budgetViews, detailViews, ITimelineEvent, timelineViews } from '../views/runParts';
import { elapsedView, errorView, progressView, streamView } from '../views/steps';
import { CSS } from './css';
import { getMermaid, IMessenger } from './mermaidBundle';

/** The part of anywidget's model a view uses. */
export interface IModel extends IMessenger {
  get(name: string): any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** ipywidgets' manager; in JupyterLab it holds the kernel connection. */
  widget_manager?: { kernel?: IKernelLike | null };
}

/** The part of a Lab kernel connection the view watches (its status, its end). */
interface ISignalLike<T> {
  connect(cb: (sender: unknown, arg: T) => void): unknown;
  disconnect(cb: (sender: unknown, arg: T) => void): unknown;
}
interface IKernelLike {
  statusChanged?: ISignalLike<string>;
  disposed?: ISignalLike<void>;
}

/** Kernel states after which this view's comm is gone for good. */
const KERNEL_GONE = new Set(['restarting', 'autorestarting', 'dead', 'terminating']);

const TICK_MS = 1000;

let seq = 0;

function render({ model, el: root }: { model: IModel; el: HTMLElement }): () => void {
  const uid = `sgr-${Math.random().toString(36).slice(2)}-${seq++}`; // unique per widget
  const get = <T>(name: string, fallback: T): T => (model.get(name) ?? fallback) as T;
  const style = h('style');
  style.textContent = CSS;
  const title = h('b', 'sgr-title');
  const status = h('span', 'st');
  const clock = h('span', 'sgr-clock');
  const reason = h('span', 'sgr-reason');
  const buttons = h('span', 'sgr-buttons');
  const notice = h('div', 'notice');
  const gone = h('div', 'sgr-disconnected');
  const planning = h('div', 'sgr-planning');
  const dag = new DagView({
    uid,
    getMermaid: () => getMermaid(model),
    onSelect: step => model.send({ type: 'select', step })
  });
  dag.node.classList.add('dag');
  const running = h('div', 'sgr-running');
  const errors = h('div', 'sgr-errors');
  const budget = h('div', 'sgr-budget');
  const tl = h('div', 'tl');
  const detail = h('div', 'sgr-detail');
  const log = h('pre', 'sgr-log');
  const answer = h('div', 'sgr-answer');
  const side = h('div', 'side', null, running, errors, budget, h('div', 'sgr-h', 'Timeline'), tl, detail, log);
  const box = h(
    'div',
    'sgr-rv',
    null,
    h('header', '', null, title, status, clock, reason, buttons),
    notice,
    gone,
    planning,
    h('div', 'cols', null, dag.node, side),
    answer
  );
  root.append(style, box);

  const watch = new HeartbeatWatch();
  const runClock = new RunClock();
  let isGone = false;

  function phase(): string {
    if (isGone) {
      return 'DISCONNECTED';
    }
    return headerPhase(get('phase', ''), get('status', ''), get<string[]>('waiting', []), !!get('mermaid', ''));
  }

  function paintHeader(): void {
    const p = phase();
    title.textContent = get('name', '') || 'run';
    status.textContent = phaseLabel(p);
    status.setAttribute('data-sgr-run-status', get('status', ''));
    box.dataset.sgrPhase = p;
    box.dataset.sgrTone = phaseTone(p);
    // The first line in the header (the failure box below has the whole text).
    const why = get('reason', '');
    reason.textContent = why.split('\n')[0];
    reason.title = why;
    notice.textContent = get('notice', '');
    // The command in the message is set as code: `…` spans become <code>.
    gone.replaceChildren(
      ...(isGone ? disconnectedMessage(get('run_id', '')) : '')
        .split('`')
        .map((part, i) => (i % 2 ? h('code', '', part) : document.createTextNode(part)))
    );
    gone.style.display = isGone ? '' : 'none';
    buttons.replaceChildren();
    if (isGone) {
      return;
    }
    for (const sid of get<string[]>('waiting', [])) {
      const a = h('button', 'sgr-approve', `Approve ${sid}`) as HTMLButtonElement;
      const d = h('button', 'sgr-deny', `Deny ${sid}`) as HTMLButtonElement;
      a.dataset.step = d.dataset.step = sid;
      a.setAttribute('data-step', sid);
      a.onclick = () => {
        a.disabled = d.disabled = true;
        model.send({ type: 'approve', step: sid });
      };
      d.onclick = () => {
        a.disabled = d.disabled = true;
        model.send({ type: 'deny', step: sid });
      };
      // Why it waits, in plain words (e.g. a resumed step whose side effect may have happened).
      const why = get<Record<string, string>>('approvals', {})[sid];
      buttons.append(a, d);
      if (why) {
        buttons.append(h('span', 'sgr-approval-why', why));
      }
    }
  }

  function onClock(): void {
    const p = phase();
    runClock.update(get('elapsed', 0), performance.now(), !isTerminal(p) && p !== 'DISCONNECTED');
    paintLive();
  }

  // Running steps: elapsed time (ticks), progress bar and message, the streamed text.
  function paintLive(): void {
    const now = performance.now();
    const t = runClock.now(now);
    // Only a kernel that sends the run's clock gets one shown (never the page's own age).
    const timed = get('t0', 0) > 0 || get('elapsed', 0) > 0;
    clock.textContent = timed && t > 0 ? `${t.toFixed(t < 10 ? 1 : 0)} s` : '';
    const states = get<Record<string, string>>('states', {});
    const started = get<Record<string, number>>('started', {});
    const progress = get<Record<string, IProgress>>('progress', {});
    const stream = get<Record<string, string>>('stream', {});
    const rows: HTMLElement[] = [];
    for (const [sid, st] of Object.entries(states)) {
      if (st !== 'RUNNING' && st !== 'RETRY_WAIT') {
        continue;
      }
      const row = h(
        'div',
        'sgr-run-row',
        null,
        h('b', '', sid),
        h('span', 'sgr-run-state', st === 'RUNNING' ? 'running' : 'waiting to retry'),
        started[sid] !== undefined && !isGone ? elapsedView(runClock.since(started[sid], now)) : null,
        progress[sid] ? progressView(progress[sid]) : null,
        stream[sid] ? streamView(stream[sid]) : null
      );
      row.dataset.sgrStep = sid;
      rows.push(row);
    }
    running.replaceChildren(...rows);
    const plan = stream.__plan__;
    const p = phase();
    planning.replaceChildren();
    if (p === 'PLANNING') {
      planning.append(h('div', 'sgr-h', `Planning… ${t > 0 ? `${t.toFixed(0)} s` : ''}`));
    }
    if (plan && (p === 'PLANNING' || !get('mermaid', ''))) {
      planning.append(streamView(plan));
    }
  }

  function paintErrors(): void {
    const errs = get<Record<string, IStepError>>('errors', {});
    const views = Object.entries(errs).map(([sid, e]) => errorView(sid, e));
    if (!views.length && phase() === 'FAILED' && get('reason', '')) {
      views.push(errorView('', get('reason', '')));
    }
    errors.replaceChildren(...views);
  }

  function paintBudget(): void {
    budget.replaceChildren(...budgetViews(get('budget', {})));
  }

  function paintTimeline(): void {
    tl.replaceChildren(...timelineViews(get<ITimelineEvent[]>('timeline', [])));
    tl.scrollTop = tl.scrollHeight;
  }

  function paintDetail(): void {
    const d = get<Record<string, any>>('detail', {}); // eslint-disable-line @typescript-eslint/no-explicit-any
    dag.select(d.id ?? null);
    detail.replaceChildren(...detailViews(d, d.id ? get<Record<string, IStepError>>('errors', {})[d.id] : undefined));
  }

  function paintLog(): void {
    const lines = get<{ step?: string; text: string }[]>('log', []);
    log.style.display = lines.length ? '' : 'none';
    log.textContent = lines.map(l => (l.step ? `[${l.step}] ` : '') + l.text).join('\n');
    log.scrollTop = log.scrollHeight;
  }

  function paintAnswer(): void {
    const md = get('answer', '');
    answer.style.display = md ? '' : 'none';
    if (md) {
      renderAnswer(answer, md, get('answer_format', 'markdown'));
    }
  }

  function paintStates(): void {
    dag.paint(get('states', {}));
    paintLive();
  }

  function paintDag(): void {
    void dag.setPlan(get('mermaid', '')).then(() => dag.paint(get('states', {})));
    paintLive();
  }

  function onHeartbeat(): void {
    watch.beat(get('heartbeat', 0), performance.now());
    if (isGone && !watch.disconnected(phase(), performance.now())) {
      isGone = false; // it beats again: the kernel is back
      everything();
    }
  }

  function check(): void {
    const p = headerPhase(get('phase', ''), get('status', ''), get<string[]>('waiting', []), !!get('mermaid', ''));
    const now = watch.disconnected(p, performance.now());
    if (now !== isGone) {
      isGone = now;
      everything();
    } else {
      paintLive();
    }
  }

  function onClosed(): void {
    watch.close();
    check();
  }

  function everything(): void {
    onClock();
    paintHeader();
    paintBudget();
    paintTimeline();
    paintDetail();
    paintLog();
    paintErrors();
    paintAnswer();
    paintDag();
  }

  const header = (): void => {
    paintHeader();
    paintErrors();
    onClock();
  };
  const handlers: [string, () => void][] = [
    ['change:mermaid', paintDag],
    ['change:states', paintStates],
    ['change:status', header],
    ['change:phase', header],
    ['change:waiting', header],
    ['change:approvals', paintHeader],
    ['change:notice', paintHeader],
    ['change:reason', header],
    ['change:budget', paintBudget],
    ['change:timeline', paintTimeline],
    ['change:detail', paintDetail],
    ['change:log', paintLog],
    ['change:errors', () => {
      paintErrors();
      paintDetail();
    }],
    ['change:answer', paintAnswer],
    ['change:answer_format', paintAnswer],
    ['change:progress', paintLive],
    ['change:stream', paintLive],
    ['change:started', paintLive],
    ['change:elapsed', onClock],
    ['change:heartbeat', onHeartbeat],
    ['comm_live_update', check],
    ['destroy', onClosed]
  ];
  for (const [ev, fn] of handlers) {
    model.on(ev, fn);
  }
  // JupyterLab: a restart or shutdown of the kernel that ran this view ends its comm; the
  // view says so at once (the heartbeat covers every other way a kernel goes).
  const kernel = model.widget_manager?.kernel ?? null;
  const onStatus = (_: unknown, st: string): void => {
    if (KERNEL_GONE.has(st)) {
      onClosed();
    }
  };
  const onDisposed = (): void => onClosed();
  kernel?.statusChanged?.connect(onStatus);
  kernel?.disposed?.connect(onDisposed);
  watch.beat(get('heartbeat', 0), performance.now());
  everything();
  const timer = window.setInterval(check, TICK_MS);
  return () => {
    kernel?.statusChanged?.disconnect(onStatus);
    kernel?.disposed?.disconnect(onDisposed);
    window.clearInterval(timer);
    dag.dispose();
    for (const [ev, fn] of handlers) {
      model.off(ev, fn);
    }
  };
}

export default { render };
