import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { DagView, READABLE_PX } from '../src/dag/dagView';
import widget, { IModel } from '../src/widget/runview';

const MERMAID = [
  'flowchart TD',
  '  classDef sgr_committed fill:#dcfce7,stroke:#16a34a,color:#14532d',
  '  classDef sgr_failed fill:#fee2e2,stroke:#dc2626,color:#7f1d1d',
  '  s_a["a<br/>format"]',
  '  s_b["b<br/>format"]',
  '  s_a --> s_b'
].join('\n');

/** A Mermaid stand-in: one g.node per node line, sized like a layout of `w` x `h`. */
function fakeMermaid(w = 400, h = 300) {
  return {
    render: vi.fn(async (id: string, text: string) => {
      const ids = [...text.matchAll(/^\s*(s_\w+)\[/gm)].map(m => m[1]);
      const nodes = ids
        .map((n, i) => `<g class="node" id="${id}-flowchart-${n}-${i}"><rect></rect><g class="label"><span class="nodeLabel" style="font-size:16px">${n}</span></g></g>`)
        .join('');
      return { svg: `<svg width="100%" style="max-width:${w}px" viewBox="0 0 ${w} ${h}">${nodes}</svg>` };
    })
  };
}

/** An anywidget model stand-in: get / on / off / send, and `set` that fires change events. */
class FakeModel implements IModel {
  widget_manager?: IModel["widget_manager"];
  data: Record<string, unknown>;
  sent: unknown[] = [];
  private handlers = new Map<string, Set<(...a: unknown[]) => void>>();
  constructor(data: Record<string, unknown>) {
    this.data = data;
  }
  get(name: string): unknown {
    return this.data[name];
  }
  on(ev: string, cb: (...a: unknown[]) => void): void {
    if (!this.handlers.has(ev)) {
      this.handlers.set(ev, new Set());
    }
    this.handlers.get(ev)?.add(cb);
  }
  off(ev: string, cb: (...a: unknown[]) => void): void {
    this.handlers.get(ev)?.delete(cb);
  }
  send(content: unknown): void {
    this.sent.push(content);
  }
  set(name: string, value: unknown): void {
    this.data[name] = value;
    this.trigger(`change:${name}`);
  }
  trigger(ev: string): void {
    for (const cb of this.handlers.get(ev) ?? []) {
      cb();
    }
  }
}

const flush = () => new Promise(r => setTimeout(r, 0));

describe('DagView', () => {
  it('renders, indexes, paints and selects', async () => {
    const selected: string[] = [];
    const view = new DagView({ uid: 't', getMermaid: async () => fakeMermaid(), onSelect: s => selected.push(s) });
    document.body.append(view.node);
    await view.setPlan(MERMAID);
    expect(view.node.querySelector('pre')?.textContent ?? '').toBe('');
    expect(view.node.dataset.sgrRendered).toBe('1');
    view.paint({ a: 'COMMITTED', b: 'FAILED' });
    expect(view.nodeOf('b')?.getAttribute('data-sgr-status')).toBe('FAILED');
    expect(view.nodeOf('a')?.classList.contains('sgr_committed')).toBe(true);
    (view.nodeOf('b')?.querySelector('rect') as Element).dispatchEvent(new MouseEvent('click', { bubbles: true }));
    expect(selected).toEqual(['b']);
    view.select('b');
    expect(view.nodeOf('b')?.classList.contains('sgr-sel')).toBe(true);
    view.dispose();
  });
  it('never fits below a readable label size', async () => {
    const view = new DagView({ uid: 't2', getMermaid: async () => fakeMermaid(20000, 9000), onSelect: () => undefined });
    document.body.append(view.node);
    await view.setPlan(MERMAID);
    expect(Number(view.node.dataset.sgrScale)).toBeCloseTo(READABLE_PX / 16, 3);
    view.setExpanded(true);
    expect(view.node.classList.contains('sgr-dag-expanded')).toBe(true);
    document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
    expect(view.isExpanded()).toBe(false);
    view.dispose();
  });
  it('draws a grid past the node limit, clickable like nodes', async () => {
    const lines = ['flowchart TD'];
    for (let i = 0; i < 400; i++) {
      lines.push(`  s_s${i}["s${i}<br/>format"]`);
    }
    const mermaid = fakeMermaid();
    const selected: string[] = [];
    const view = new DagView({ uid: 't3', getMermaid: async () => mermaid, onSelect: s => selected.push(s) });
    await view.setPlan(lines.join('\n'));
    expect(view.node.dataset.sgrRendered).toBe('grid');
    expect(mermaid.render).not.toHaveBeenCalled();
    (view.nodeOf('s7') as HTMLElement).click();
    expect(selected).toEqual(['s7']);
  });
  it('shows the text when there is no Mermaid', async () => {
    const view = new DagView({ uid: 't4', getMermaid: async () => null, onSelect: () => undefined });
    await view.setPlan(MERMAID);
    expect(view.node.querySelector('pre')?.textContent).toContain('flowchart');
  });
});

describe('RunView widget', () => {
  let root: HTMLElement;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    (globalThis as Record<string, unknown>).__sgrMermaidManager = { getMermaid: async () => fakeMermaid() };
    root = document.createElement('div');
    document.body.append(root);
  });
  afterEach(() => {
    vi.useRealTimers();
    root.remove();
  });

  function model(extra: Record<string, unknown> = {}): FakeModel {
    return new FakeModel({
      run_id: 'r-1', name: 'demo', status: 'RUNNING', phase: 'RUNNING', reason: '', mermaid: MERMAID,
      states: { a: 'RUNNING' }, waiting: [], timeline: [], budget: { steps: [1, 10] }, log: [],
      detail: {}, notice: '', progress: {}, stream: {}, started: { a: 2 }, elapsed: 5, t0: 0,
      answer: '', answer_format: 'markdown', heartbeat: 1, errors: {}, ...extra
    });
  }

  it('shows the true phase, a ticking elapsed time, progress and streamed text', async () => {
    const m = model({ phase: 'WAITING_FOR_APPROVAL', waiting: ['b'], states: { a: 'RUNNING', b: 'WAITING_APPROVAL' } });
    const dispose = widget.render({ model: m, el: root });
    await flush();
    expect(root.querySelector('.st')?.textContent).toBe('WAITING FOR APPROVAL');
    expect(root.querySelector('button.sgr-approve')?.getAttribute('data-step')).toBe('b');
    m.set('approvals', { b: 'its side effect may already have happened before the restart' });
    expect(root.querySelector('.sgr-approval-why')?.textContent).toContain('may already have happened');
    const first = Number(root.querySelector<HTMLElement>('.sgr-run-row .sgr-elapsed')?.dataset.sgrSeconds);
    expect(first).toBeCloseTo(3, 0);
    m.set('heartbeat', 2);
    vi.advanceTimersByTime(3000);
    const later = Number(root.querySelector<HTMLElement>('.sgr-run-row .sgr-elapsed')?.dataset.sgrSeconds);
    expect(later).toBeCloseTo(6, 0);
    m.set('progress', { a: { fraction: 0.5, message: 'half way', metrics: {}, t: 4 } });
    expect(root.querySelector('.sgr-run-row')?.textContent).toContain('50 % · half way');
    m.set('stream', { a: 'The capital of France is' });
    expect(root.querySelector('.sgr-run-row .sgr-stream')?.textContent).toBe('The capital of France is');
    dispose();
  });

  it('says DISCONNECTED when the heartbeat stops, and what to run', async () => {
    const m = model();
    const dispose = widget.render({ model: m, el: root });
    await flush();
    vi.advanceTimersByTime(5000);
    expect(root.querySelector<HTMLElement>('.sgr-rv')?.dataset.sgrPhase).toBe('RUNNING');
    vi.advanceTimersByTime(5000);
    expect(root.querySelector<HTMLElement>('.sgr-rv')?.dataset.sgrPhase).toBe('DISCONNECTED');
    expect(root.querySelector('.sgr-disconnected')?.textContent).toContain('%sgr resume r-1');
    expect(root.querySelector('button.sgr-approve')).toBeNull();
    m.set('heartbeat', 7); // a reattached kernel beats again
    expect(root.querySelector<HTMLElement>('.sgr-rv')?.dataset.sgrPhase).toBe('RUNNING');
    dispose();
  });

  it('a finished run is never disconnected; FAILED is red with the traceback', async () => {
    const m = model({
      status: 'FAILED', phase: 'FAILED', reason: 'step b failed', states: { a: 'COMMITTED', b: 'FAILED' },
      errors: { b: { type: 'ValueError', message: 'bad', traceback: 'Traceback\n  line\nValueError: bad', retried: false, why_not_retried: 'deterministic' } }
    });
    const dispose = widget.render({ model: m, el: root });
    await flush();
    vi.advanceTimersByTime(60000);
    const box = root.querySelector<HTMLElement>('.sgr-rv');
    expect(box?.dataset.sgrPhase).toBe('FAILED');
    expect(box?.dataset.sgrTone).toBe('bad');
    expect(root.querySelector('.sgr-errors .sgr-traceback pre')?.textContent).toBe('Traceback\n  line\nValueError: bad');
    expect(root.querySelector('.sgr-errors')?.textContent).toContain('Not retried: deterministic');
    dispose();
  });

  it('renders the answer as sanitised Markdown', async () => {
    const m = model({ status: 'COMPLETED', phase: 'COMPLETED' });
    const dispose = widget.render({ model: m, el: root });
    m.set('answer', '**Paris** is the capital.<script>x()</script>');
    expect(root.querySelector('.sgr-answer strong')?.textContent).toBe('Paris');
    expect(root.querySelector('.sgr-answer script')).toBeNull();
    dispose();
  });
});

describe('RunView and its kernel', () => {
  it('a kernel restart is seen at once, even without a heartbeat', async () => {
    const listeners: ((s: unknown, st: string) => void)[] = [];
    const kernel = {
      statusChanged: {
        connect: (cb: (s: unknown, st: string) => void) => listeners.push(cb),
        disconnect: () => undefined
      }
    };
    const m = new FakeModel({
      run_id: 'r-9', status: 'RUNNING', mermaid: MERMAID, states: {}, waiting: ['b'], heartbeat: 0
    });
    m.widget_manager = { kernel };
    const root = document.createElement('div');
    const dispose = widget.render({ model: m, el: root });
    expect(root.querySelector<HTMLElement>('.sgr-rv')?.dataset.sgrPhase).toBe('WAITING_FOR_APPROVAL');
    listeners.forEach(cb => cb(kernel, 'busy'));
    expect(root.querySelector<HTMLElement>('.sgr-rv')?.dataset.sgrPhase).toBe('WAITING_FOR_APPROVAL');
    listeners.forEach(cb => cb(kernel, 'restarting'));
    expect(root.querySelector<HTMLElement>('.sgr-rv')?.dataset.sgrPhase).toBe('DISCONNECTED');
    expect(root.textContent).toContain('%sgr resume r-9');
    dispose();
  });
});
