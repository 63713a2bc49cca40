import { describe, expect, it } from 'vitest';

import { budgetViews, detailViews, timelineViews } from '../src/views/runParts';

describe('budget meters', () => {
  it('draws a meter per limited budget and marks one nearly spent', () => {
    const views = budgetViews({ tokens: [950, 1000], steps: [1, 10] });
    const bars = views.filter(v => v.dataset.sgrMeter);
    expect(bars.map(b => b.dataset.sgrMeter)).toEqual(['tokens', 'steps']);
    expect(bars[0].className).toContain('hot');
    expect(bars[1].className).not.toContain('hot');
    expect(bars[1].dataset.sgrPercent).toBe('10');
  });
  it('labels an unlimited budget only once it is used', () => {
    expect(budgetViews({ cost_usd: [0, null] })).toEqual([]);
    const [label] = budgetViews({ cost_usd: [0.25, null] });
    expect(label.textContent).toContain('cost_usd');
  });
});

describe('timeline', () => {
  it('keeps the latest entries and calls the planning step "planning"', () => {
    const events = Array.from({ length: 80 }, (_, i) => ({ t: i, step: i ? `s${i}` : '__plan__', status: 'COMMITTED', attempt: 1 }));
    const views = timelineViews(events);
    expect(views).toHaveLength(60);
    expect(views[0].textContent).toBe('+20.00s s20 COMMITTED');
    expect(timelineViews(events.slice(0, 1))[0].textContent).toBe('+0.00s planning COMMITTED');
    expect(timelineViews([{ t: 1.5, step: 'a', status: 'RUNNING', attempt: 3 }])[0].textContent).toBe('+1.50s a RUNNING #3');
  });
});

describe('step detail', () => {
  it('is empty with no step selected', () => {
    expect(detailViews({})).toEqual([]);
  });
  it('shows figures, resolved inputs and the output, skipping empty fields', () => {
    const text = detailViews({ id: 's1', skill: 'python', attempts: 2, tokens: null, inputs: { x: 1 }, output: { y: 2 } })
      .map(v => v.textContent)
      .join('|');
    expect(text).toContain('Step s1');
    expect(text).toContain('skill: python');
    expect(text).toContain('attempts: 2');
    expect(text).not.toContain('tokens');
    expect(text).toContain('"x": 1');
    expect(text).toContain('"y": 2');
  });
  it('shows the failure of the selected step', () => {
    const views = detailViews({ id: 's2', error: 'ValueError: bad' });
    expect(views.map(v => v.textContent).join('|')).toContain('ValueError: bad');
  });
});
