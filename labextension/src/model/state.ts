// The front end's model: pure functions over what the kernel sends (the RunView's synced
// traits, the server's run summaries). No DOM here, so every rule is unit-tested
// (labextension/test/state.test.ts) and shared by the widget and the side panel.

/** Run phases the kernel reports; DISCONNECTED is the front end's own (no heartbeat). */
export type Phase =
  | 'PLANNING'
  | 'RUNNING'
  | 'WAITING_FOR_APPROVAL'
  | 'PAUSED'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'INTERRUPTED'
  | 'DISCONNECTED';

export const TERMINAL_PHASES: ReadonlySet<string> = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'ABORTED'
]);

/** Step progress reported by a remote (Dask) or long-running step. */
export interface IProgress {
  fraction: number | null;
  message: string;
  metrics?: Record<string, unknown>;
  t?: number;
}

/** A step's failure, as the kernel explains it. */
export interface IStepError {
  type: string;
  message: string;
  traceback?: string;
  retried?: boolean;
  why_not_retried?: string;
}

export function isTerminal(phase: string | null | undefined): boolean {
  return !!phase && TERMINAL_PHASES.has(phase);
}

/**
 * The state the header shows. The kernel's `phase` wins when it is sent; an older kernel
 * sends only the run's `status`, so steps waiting for approval turn RUNNING into
 * WAITING_FOR_APPROVAL, and CREATED with no plan yet reads as PLANNING.
 */
export function headerPhase(
  phase: string | null | undefined,
  status: string | null | undefined,
  waiting: readonly string[] = [],
  hasPlan = true
): string {
  if (phase) {
    return phase;
  }
  const s = status || 'CREATED';
  if (!isTerminal(s) && waiting.length) {
    return 'WAITING_FOR_APPROVAL';
  }
  if (s === 'CREATED' && !hasPlan) {
    return 'PLANNING';
  }
  return s;
}

/** How a phase is written for people: "WAITING FOR APPROVAL", not the enum's underscores. */
export function phaseLabel(phase: string): string {
  return phase.replace(/_/g, ' ');
}

/** The CSS tone of a phase: colour is the first thing a user reads. */
export function phaseTone(phase: string): 'ok' | 'bad' | 'wait' | 'live' | 'idle' {
  switch (phase) {
    case 'COMPLETED':
      return 'ok';
    case 'FAILED':
    case 'ABORTED':
    case 'DISCONNECTED':
      return 'bad';
    case 'WAITING_FOR_APPROVAL':
    case 'PAUSED':
    case 'INTERRUPTED':
      return 'wait';
    case 'PLANNING':
    case 'RUNNING':
      return 'live';
    default:
      return 'idle';
  }
}

/** Seconds as people read durations: "0.4 s", "12 s", "3 m 05 s", "2 h 01 m". */
export function formatDuration(s: number | null | undefined): string {
  if (s === null || s === undefined || !isFinite(s) || s < 0) {
    return '';
  }
  if (s < 10) {
    return `${s.toFixed(1)} s`;
  }
  if (s < 60) {
    return `${Math.floor(s)} s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m} m ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  }
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} m`;
}

/** An epoch time as a start time: "14:03:07" today, "2026-11-30 14:03" another day. */
export function formatStart(ts: number | null | undefined, now: Date = new Date()): string {
  if (ts === null || ts === undefined || !isFinite(ts)) {
    return '';
  }
  const d = new Date(ts * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) {
    return hms;
  }
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms.slice(0, 5)}`;
}

/**
 * The run's clock in the browser. The kernel sends `elapsed` (run seconds) at each flush; the
 * browser carries it on with its own monotonic clock until the next one, so a running step's
 * time ticks without a message per second and without trusting two machines' clocks to agree.
 */
export class RunClock {
  private base = 0;
  private at = 0;
  private live = false;

  /** The kernel's `elapsed` arrived at `nowMs` (performance.now()). */
  update(elapsed: number, nowMs: number, running: boolean): void {
    this.base = elapsed;
    this.at = nowMs;
    this.live = running;
  }

  /** Run seconds now: frozen once the run stops. */
  now(nowMs: number): number {
    return this.live ? this.base + Math.max(0, nowMs - this.at) / 1000 : this.base;
  }

  /** How long an attempt started at run second `started` has run. */
  since(started: number, nowMs: number): number {
    return Math.max(0, this.now(nowMs) - started);
  }
}

/** Clamp a progress fraction for a bar; null means indeterminate. */
export function progressPercent(p: IProgress | null | undefined): number | null {
  if (!p || p.fraction === null || p.fraction === undefined || !isFinite(p.fraction)) {
    return null;
  }
  return Math.round(Math.min(1, Math.max(0, p.fraction)) * 1000) / 10;
}

/** A budget meter: [used, limit|null] -> the bar's fill and whether it is nearly spent. */
export function meter(
  used: number,
  limit: number | null | undefined
): { percent: number | null; hot: boolean; text: string } {
  const fmt = (x: number): string =>
    Number.isInteger(x) ? String(x) : x < 1 ? x.toFixed(4) : x.toFixed(2);
  if (limit === null || limit === undefined) {
    return { percent: null, hot: false, text: fmt(used) };
  }
  const frac = limit > 0 ? Math.min(1, used / limit) : 1;
  return { percent: Math.round(frac * 1000) / 10, hot: frac > 0.9, text: `${fmt(used)} / ${fmt(limit)}` };
}

/** The last `maxLines` lines of streamed text (what fits in the box while a step runs). */
export function tail(text: string, maxLines = 12): string {
  const lines = text.split('\n');
  return lines.length <= maxLines ? text : lines.slice(-maxLines).join('\n');
}

/**
 * Watches the kernel's heartbeat. The kernel bumps `heartbeat` every 2 s while a run is not
 * terminal; when it stops moving for `staleMs` (or the comm is closed) the kernel that ran the
 * view is gone. `beat()` on every change, `check(now)` on a timer: true means disconnected.
 * A view whose kernel never sent a heartbeat (an older kernel) is never declared gone by time.
 */
export class HeartbeatWatch {
  private last: number | null = null;
  private lastAt = 0;
  private closed = false;

  constructor(private readonly staleMs = 8000) {}

  beat(value: number, now: number): void {
    if (value !== this.last) {
      this.last = value;
      this.lastAt = now;
    }
  }

  close(): void {
    this.closed = true;
  }

  disconnected(phase: string, now: number): boolean {
    if (isTerminal(phase)) {
      return false;
    }
    if (this.closed) {
      return true;
    }
    return this.last !== null && this.last > 0 && now - this.lastAt > this.staleMs;
  }
}

/** What a disconnected view tells the user to run. */
export function disconnectedMessage(runId: string): string {
  return (
    'the kernel that ran this view is gone — run `%sgr resume ' +
    (runId || 'RUN_ID') +
    '` to continue'
  );
}
