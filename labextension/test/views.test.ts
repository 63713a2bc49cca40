import { describe, expect, it } from 'vitest';

import { markdownToHtml, renderAnswer } from '../src/markdown';
import { errorView, progressView, streamView } from '../src/views/steps';
import { stepIdOf, indexNodes, paintNode } from '../src/dag/paint';
import { runMeta } from '../src/panel/runsList';

describe('markdown answers', () => {
  it('renders Markdown', () => {
    const html = markdownToHtml('# Paris\n\nThe **capital**:\n\n| a | b |\n|---|---|\n| 1 | 2 |');
    expect(html).toContain('<h1>Paris</h1>');
    expect(html).toContain('<strong>capital</strong>');
    expect(html).toContain('<table>');
  });
  it('sanitises what a model could inject', () => {
    const html = markdownToHtml('<img src=x onerror="alert(1)"><script>alert(2)</script>[x](javascript:alert(3))');
    expect(html).not.toContain('onerror');
    expect(html).not.toContain('<script');
    expect(html).not.toContain('javascript:');
  });
  it('shows a non-Markdown format verbatim', () => {
    const el = document.createElement('div');
    renderAnswer(el, '# not a heading', 'text');
    expect(el.querySelector('pre')?.textContent).toBe('# not a heading');
    renderAnswer(el, '![chart](https://example.org/c.png) ![dot](data:image/png;base64,iVBORw0KGgo=)');
    expect(el.querySelectorAll('img').length).toBe(1);
    expect(el.textContent).toContain('[image: chart]');
    renderAnswer(el, 'see [docs](https://example.org)');
    expect(el.querySelector('a')?.getAttribute('rel')).toBe('noopener noreferrer');
  });
});

describe('step views', () => {
  it('a progress bar with its message', () => {
    const el = progressView({ fraction: 0.25, message: 'chunk 5/20' });
    expect(el.querySelector<HTMLElement>('.sgr-progress-fill')?.style.width).toBe('25%');
    expect(el.textContent).toContain('25 % · chunk 5/20');
    const ind = progressView({ fraction: null, message: 'starting' });
    expect(ind.querySelector('.sgr-progress-indeterminate')).not.toBeNull();
  });
  it('a failure keeps its traceback lines and says why it was not retried', () => {
    const tb = 'Traceback (most recent call last):\n  File "x.py", line 1\n    1/0\nZeroDivisionError: division by zero';
    const el = errorView('calc', {
      type: 'ZeroDivisionError',
      message: 'division by zero',
      traceback: tb,
      retried: false,
      why_not_retried: 'a deterministic code error: retrying would fail the same way'
    });
    expect(el.querySelector('details.sgr-traceback pre')?.textContent).toBe(tb);
    expect(el.querySelector('details')?.hasAttribute('open')).toBe(false);
    expect(el.textContent).toContain('Not retried: a deterministic code error');
    expect(el.textContent).toContain('calc failed');
    expect(errorView('s', 'plain text').textContent).toContain('plain text');
    const text = errorView('s', 'SandboxExecutionError: boom\nTraceback (most recent call last):\n  File "<cell>"\nZeroDivisionError: x\n');
    expect(text.querySelector('.sgr-error-msg')?.textContent).toBe('SandboxExecutionError: boom');
    expect(text.querySelector('details.sgr-traceback pre')?.textContent?.split('\n')).toHaveLength(3);
  });
  it('streamed text shows its tail', () => {
    const text = Array.from({ length: 40 }, (_, i) => `tok ${i}`).join('\n');
    expect(streamView(text).textContent?.split('\n').at(-1)).toBe('tok 39');
  });
});

describe('painting', () => {
  it('inverts the kernel node-id escape', () => {
    expect(stepIdOf('s_fetch')).toBe('fetch');
    expect(stepIdOf('s_a__b')).toBe('a_b');
    expect(stepIdOf('s_a_x2d_b')).toBe('a-b');
    expect(stepIdOf('s_x_x2e_y__z')).toBe('x.y_z');
    expect(stepIdOf('other')).toBeNull();
  });
  it('indexes Mermaid nodes and paints them inline', () => {
    const root = document.createElement('div');
    root.innerHTML =
      '<svg><g class="node" id="m-flowchart-s_a__b-0"><rect></rect><g class="label"><span class="nodeLabel">a_b</span></g></g></svg>';
    const nodes = indexNodes(root);
    expect([...nodes.keys()]).toEqual(['a_b']);
    const g = nodes.get('a_b') as Element;
    paintNode(g, 'FAILED', { sgr_failed: { fill: '#fee2e2', stroke: '#dc2626', color: '#7f1d1d' } });
    expect(g.getAttribute('data-sgr-status')).toBe('FAILED');
    expect(g.classList.contains('sgr_failed')).toBe(true);
    expect((g.querySelector('rect') as SVGElement).style.getPropertyValue('fill')).toBe('#fee2e2');
    paintNode(g, 'COMMITTED', {});
    expect(g.classList.contains('sgr_failed')).toBe(false);
  });
});

describe('runs list meta', () => {
  const base = {
    run_id: 'r1', name: 'n', status: 'COMPLETED', reason: null, created_ts: 1000, ended_ts: 1012,
    steps_total: 3, steps_done: 3, waiting: [], live: null, holder: null, tokens: 0, cost_usd: 0
  };
  it('start, duration and counts, with the new fields', () => {
    const m = runMeta({ ...base, started_at: 1000, duration_s: 75, steps_committed: 2 }, 2000);
    expect(m).toMatch(/^started .+ · took 1 m 15 s · 2\/3 steps committed \(3 done\)$/);
  });
  it('falls back to created_ts / ended_ts from an older server', () => {
    expect(runMeta(base, 2000)).toMatch(/took 12 s · 3\/3 steps$/);
    expect(runMeta({ ...base, status: 'RUNNING', ended_ts: null }, 1030)).toContain('30 s so far');
  });
});

import { stepName, timeline } from '../src/panel/runDetail';

describe('panel detail', () => {
  const view = (n: number) => ({
    summary: {} as never,
    mermaid: null,
    view: {
      created_ts: 0,
      ended_ts: 10,
      plan: null,
      steps: Array.from({ length: n }, (_, i) => ({
        id: i === 0 ? '__plan__' : `s${i}`, skill: 'format', status: 'COMMITTED', attempts: 1, output: null,
        error: null, reason: null, approval: null, approval_by: null, started_ts: i * 0.1, ended_ts: i * 0.1 + 0.05,
        duration_s: 0.05, usage: { tokens: 0, cost_usd: 0, llm_calls: 0 }
      }))
    }
  });
  it('names the planner step "planning"', () => {
    expect(stepName('__plan__')).toBe('planning');
    expect(timeline(view(3)).querySelector('.sgr-Panel-laneLabel')?.textContent).toBe('planning');
  });
  it('folds the timeline of a big run', () => {
    expect(timeline(view(3)).tagName).toBe('DIV');
    const fold = timeline(view(120));
    expect(fold.tagName).toBe('DETAILS');
    expect(fold.querySelectorAll('.sgr-Panel-lane').length).toBe(120);
  });
});
