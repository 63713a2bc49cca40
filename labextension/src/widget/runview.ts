// RunView: the live run widget (anywidget). Built by esbuild into one ES module,
// sgr_jupyter/_esm/runview.js (labextension/build-widget.mjs): anywidget imports it from a
// blob: URL, so it cannot import Lab's modules. Mermaid comes from our labextension (a
// global, src/mermaid.ts) or, elsewhere, from the bundle the kernel sends once per page.
// The DAG and state painting are the side panel's (src/dag).
import { DagView, Mermaid } from '../dag/dagView';
import { renderAnswer } from '../markdown';
import {
  disconnectedMessage,
  headerPhase,
  HeartbeatWatch,
  IProgress,
  isTerminal,
  IStepError,
  meter,
  phaseLabel,
  phaseTone,
  RunClock
} from '../model/state';
import { h, json } from '../views/dom';
import { elapsedView, errorView, progressView, streamView } from '../views/steps';
import { CSS } from './css';

/** The part of anywidget's model a view uses. */
export interface IModel {
  get(name: string): any; // eslint-disable-line @typescript-eslint/no-explicit-any
  on(event: string, cb: (...args: any[]) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  off(event: string, cb: (...args: any[]) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  send(content: unknown, callbacks?: unknown, buffers?: unknown): void;
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

// The fallback bundle is fetched once per page: each widget imports its own copy of this
// module (a blob: URL per model), so the shared promise lives on globalThis.
async function getMermaid(model: IModel): Promise<Mermaid | null> {
  const g = globalThis as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const mgr = g.__sgrMermaidManager;
  if (mgr) {
    return await mgr.getMermaid();
  }
  if (!g.__sgrMermaidBundle) {
    g.__sgrMermaidBundle = new Promise(resolve => {
      const onMsg = async (msg: any, buffers: ArrayBuffer[] | DataView[]): Promise<void> => { // eslint-disable-line @typescript-eslint/no-explicit-any
        if (msg?.type === 'mermaid-bundle' && buffers?.length) {
          model.off('msg:custom', onMsg);
          const url = URL.createObjectURL(new Blob([buffers[0]], { type: 'text/javascript' }));
          try {
            const m = await import(/* webpackIgnore: true */ url);
            const mermaid = m.default ?? m.mermaid;
            mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
            resolve(mermaid);
          } catch (e) {
            console.warn('sgr: mermaid bundle failed', e);
            resolve(null);
          }
        } else if (msg?.type === 'no-mermaid') {
          model.off('msg:custom', onMsg);
          resolve(null);
        }
      };
      model.on('msg:custom', onMsg);
      model.send({ type: 'need-mermaid' });
    });
  }
  return await g.__sgrMermaidBundle;
}

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
    budget.replaceChildren();
    for (const [k, v] of Object.entries(get<Record<string, [number, number | null]>>('budget', {}))) {
      const [used, limit] = v;
      const m = meter(used, limit);
      if (m.percent === null) {
        if (used) {
          budget.append(h('div', 'sgr-meter-label', `${k}: ${m.text}`));
        }
        continue;
      }
      const fill = h('div');
      fill.style.width = `${m.percent}%`;
      const bar = h('div', `meter${m.hot ? ' hot' : ''}`, null, fill);
      bar.dataset.sgrMeter = k;
      bar.dataset.sgrPercent = String(m.percent);
      budget.append(h('div', 'sgr-meter-label', `${k}: ${m.text}`), bar);
    }
  }

  function paintTimeline(): void {
    const events = get<{ t: number; step: string; status: string; attempt: number }[]>('timeline', []);
    tl.replaceChildren(
      ...events.slice(-60).map(e =>
        h(
          'span',
          '',
          // The kernel's own planning step is "planning" to the user, never its internal id.
          `+${e.t.toFixed(2)}s ${e.step === '__plan__' ? 'planning' : e.step} ${e.status}` +
            (e.attempt > 1 ? ` #${e.attempt}` : '')
        )
      )
    );
    tl.scrollTop = tl.scrollHeight;
  }

  function paintDetail(): void {
    const d = get<Record<string, any>>('detail', {}); // eslint-disable-line @typescript-eslint/no-explicit-any
    dag.select(d.id ?? null);
    if (!d.id) {
      detail.replaceChildren();
      return;
    }
    const rows = ['skill', 'status', 'attempts', 'duration_s', 'llm_calls', 'tokens', 'cost_usd', 'capabilities']
      .filter(k => d[k] !== null && d[k] !== undefined && d[k] !== '')
      .map(k => h('div', '', `${k}: ${d[k]}`));
    const err = get<Record<string, IStepError>>('errors', {})[d.id];
    const imgs = ((d.images as string[]) ?? []).map(src => {
      const i = h('img') as HTMLImageElement;
      i.src = src;
      i.style.maxWidth = '100%';
      return i;
    });
    detail.replaceChildren(
      h('b', '', `Step ${d.id}`),
      ...rows,
      err ? errorView(d.id, err) : d.error ? errorView(d.id, String(d.error)) : h('span'),
      h('div', 'sgr-h', 'inputs'),
      h('pre', '', json(d.inputs)),
      h('div', 'sgr-h', 'output'),
      h('pre', '', json(d.output)),
      ...imgs
    );
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
