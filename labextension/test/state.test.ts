import { describe, expect, it } from 'vitest';

import {
  disconnectedMessage,
  formatDuration,
  formatStart,
  headerPhase,
  HeartbeatWatch,
  meter,
  phaseLabel,
  phaseTone,
  progressPercent,
  RunClock,
  tail
} from '../src/model/state';

describe('headerPhase', () => {
  it('takes the kernel phase when it is sent', () => {
    expect(headerPhase('WAITING_FOR_APPROVAL', 'RUNNING')).toBe('WAITING_FOR_APPROVAL');
  });
  it('never shows RUNNING while steps wait for approval (older kernels)', () => {
    expect(headerPhase('', 'RUNNING', ['publish'])).toBe('WAITING_FOR_APPROVAL');
    expect(headerPhase('', 'COMPLETED', ['publish'])).toBe('COMPLETED');
  });
  it('reads CREATED with no plan as PLANNING', () => {
    expect(headerPhase('', 'CREATED', [], false)).toBe('PLANNING');
    expect(headerPhase(undefined, undefined, [], true)).toBe('CREATED');
  });
  it('labels and tones', () => {
    expect(phaseLabel('WAITING_FOR_APPROVAL')).toBe('WAITING FOR APPROVAL');
    expect(phaseTone('FAILED')).toBe('bad');
    expect(phaseTone('DISCONNECTED')).toBe('bad');
    expect(phaseTone('COMPLETED')).toBe('ok');
    expect(phaseTone('PAUSED')).toBe('wait');
    expect(phaseTone('PLANNING')).toBe('live');
  });
});

describe('formatting', () => {
  it('durations read like durations', () => {
    expect(formatDuration(0.42)).toBe('0.4 s');
    expect(formatDuration(12.9)).toBe('12 s');
    expect(formatDuration(185)).toBe('3 m 05 s');
    expect(formatDuration(7260)).toBe('2 h 01 m');
    expect(formatDuration(null)).toBe('');
    expect(formatDuration(-1)).toBe('');
  });
  it('start times: clock time today, date another day', () => {
    const now = new Date(2026, 10, 30, 15, 0, 0);
    const today = new Date(2026, 10, 30, 14, 3, 7).getTime() / 1000;
    const before = new Date(2026, 10, 28, 9, 5, 0).getTime() / 1000;
    expect(formatStart(today, now)).toBe('14:03:07');
    expect(formatStart(before, now)).toBe('2026-11-28 09:05');
    expect(formatStart(null, now)).toBe('');
  });
  it('progress is clamped, unknown is indeterminate', () => {
    expect(progressPercent({ fraction: 0.4567, message: '' })).toBe(45.7);
    expect(progressPercent({ fraction: 3, message: '' })).toBe(100);
    expect(progressPercent({ fraction: null, message: 'x' })).toBeNull();
    expect(progressPercent(undefined)).toBeNull();
  });
  it('budget meters', () => {
    expect(meter(5, 10)).toEqual({ percent: 50, hot: false, text: '5 / 10' });
    expect(meter(9.5, 10).hot).toBe(true);
    expect(meter(12, 10).percent).toBe(100);
    expect(meter(3, null)).toEqual({ percent: null, hot: false, text: '3' });
    expect(meter(0.0123, 0.05).text).toBe('0.0123 / 0.0500');
  });
  it('stream tail keeps the last lines', () => {
    const text = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n');
    expect(tail(text, 3)).toBe('line 27\nline 28\nline 29');
    expect(tail('short', 3)).toBe('short');
  });
  it('names the command to resume', () => {
    expect(disconnectedMessage('r-123')).toContain('%sgr resume r-123');
  });
});

describe('HeartbeatWatch', () => {
  it('is disconnected when the beat stops for 8 s in a live phase', () => {
    const w = new HeartbeatWatch(8000);
    w.beat(1, 0);
    expect(w.disconnected('RUNNING', 7000)).toBe(false);
    w.beat(2, 7000);
    expect(w.disconnected('RUNNING', 14000)).toBe(false);
    expect(w.disconnected('RUNNING', 15001)).toBe(true);
    expect(w.disconnected('COMPLETED', 99999)).toBe(false);
  });
  it('the same value again is not a beat', () => {
    const w = new HeartbeatWatch(8000);
    w.beat(3, 0);
    w.beat(3, 7000);
    expect(w.disconnected('WAITING_FOR_APPROVAL', 8500)).toBe(true);
  });
  it('never times out a kernel that sends no heartbeat', () => {
    const w = new HeartbeatWatch(8000);
    w.beat(0, 0);
    expect(w.disconnected('RUNNING', 1e9)).toBe(false);
  });
  it('a closed comm is disconnected at once unless the run ended', () => {
    const w = new HeartbeatWatch(8000);
    w.close();
    expect(w.disconnected('RUNNING', 0)).toBe(true);
    expect(w.disconnected('FAILED', 0)).toBe(false);
  });
});

describe('RunClock', () => {
  it('ticks between flushes and freezes when the run stops', () => {
    const c = new RunClock();
    c.update(10, 1000, true);
    expect(c.now(3500)).toBeCloseTo(12.5);
    expect(c.since(4, 3500)).toBeCloseTo(8.5);
    c.update(20, 5000, false);
    expect(c.now(99000)).toBe(20);
    expect(c.since(25, 99000)).toBe(0);
  });
});
