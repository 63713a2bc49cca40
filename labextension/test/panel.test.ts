import { describe, expect, it } from 'vitest';

import { head, steps } from '../src/panel/runDetail';
import { runsList } from '../src/panel/runsList';
import type { IRunDetail, IRunSummary } from '../src/runsApi';

const summary: IRunSummary = {
  run_id: 'r1', name: 'etl', status: 'RUNNING', reason: null, created_ts: 1000, ended_ts: null,
  started_at: 1000, duration_s: null, steps_total: 2, steps_done: 1, steps_committed: 1,
  waiting: ['load'], live: null, holder: null, tokens: 12, cost_usd: 0
};

function detail(): IRunDetail {
  const base = { attempts: 1, output: null, error: null, reason: null, approval: null, approval_by: null,
    ended_ts: null, duration_s: null, usage: { tokens: 0, cost_usd: 0, llm_calls: 0 } };
  return {
    summary,
    mermaid: null,
    view: {
      created_ts: 1000, ended_ts: null,
      plan: { steps: [{ id: 'fetch', inputs: { url: '${cfg.output.url}' } }, { id: 'load', inputs: {} }] },
      steps: [
        { ...base, id: 'fetch', skill: 'dask_job', status: 'RUNNING', started_ts: 1001,
          progress: { fraction: 0.3, message: 'partition 3/10' }, inputs: { url: 'http://127.0.0.1/data' } },
        { ...base, id: 'load', skill: 'python', status: 'FAILED', started_ts: 1002, error: 'boom',
          error_detail: { type: 'KeyError', message: "'x'", traceback: 'Traceback\n  File "a"\nKeyError: x', retried: false, why_not_retried: 'deterministic' } }
      ]
    }
  };
}

describe('side panel views', () => {
  const host = { act: () => undefined, blobUrl: async () => 'blob:x' };

  it('a running remote step shows its progress bar even folded; resolved inputs win', () => {
    const list = steps(host, detail(), summary, null, new Set(['fetch']));
    const fetch = list.querySelector<HTMLDetailsElement>("details[data-step-id='fetch']");
    expect(fetch?.querySelector('summary .sgr-progress')?.getAttribute('data-sgr-percent')).toBe('30');
    expect(fetch?.querySelector('summary')?.textContent).toContain('partition 3/10');
    expect(fetch?.open).toBe(true);
    expect(fetch?.textContent).toContain('http://127.0.0.1/data');
    expect(fetch?.textContent).not.toContain('${cfg.output.url}');
  });

  it('a failed step is red with its traceback folded and why it was not retried', () => {
    const list = steps(host, detail(), summary, null, new Set());
    const load = list.querySelector("details[data-step-id='load']");
    expect(load?.classList.contains('sgr-mod-failed')).toBe(true);
    expect(load?.querySelector('.sgr-traceback pre')?.textContent).toBe('Traceback\n  File "a"\nKeyError: x');
    expect(load?.textContent).toContain('Not retried: deterministic');
    expect(load?.querySelector('.sgr-Panel-approve')).not.toBeNull(); // it is in `waiting`
  });

  it('the head of a failed run is marked failed', () => {
    expect(head({ ...summary, status: 'FAILED' }, null).classList.contains('sgr-mod-failed')).toBe(true);
    expect(head(summary, null).classList.contains('sgr-mod-failed')).toBe(false);
  });

  it('the runs list shows start, duration and counts, and opens a run', () => {
    const opened: string[] = [];
    const [, list] = runsList('/home', [{ ...summary, status: 'COMPLETED', duration_s: 42, steps_done: 2, steps_committed: 2 }], id => opened.push(id));
    const li = list.querySelector('li') as HTMLElement;
    expect(li.querySelector('.sgr-Panel-when')?.textContent).toMatch(/^started .+ · took 42 s · 2\/2 steps$/);
    li.click();
    expect(opened).toEqual(['r1']);
  });
});
