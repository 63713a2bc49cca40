// The typed client of the server extension's REST API (sgr_jupyter/server/_handlers.py) and
// the JSON shapes it returns (RunSummary, RunDetail, RequestTrace in sgr_kernel).
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IProgress, IStepError } from './model/state';

export interface IRunSummary {
  run_id: string;
  name: string;
  status: string;
  reason: string | null;
  created_ts: number | null;
  ended_ts: number | null;
  /** When it was created (epoch seconds); older servers send only created_ts. */
  started_at?: number | null;
  /** Seconds from creation to its end; null while it runs. */
  duration_s?: number | null;
  /** The plan's steps (internal planning steps not counted). */
  steps_total: number;
  steps_done: number;
  steps_committed?: number;
  waiting: string[];
  live: 'here' | 'elsewhere' | null;
  holder: string | null;
  tokens: number;
  cost_usd: number;
}

/** What approve / deny / cancel did (`Steered` in kernel/sgr_kernel/runs/base.py): the run's summary
 * after it, where the request went, and whether the run has taken it. `posted` + not applied
 * comes back as HTTP 202: the process that runs it has not recorded it yet. */
export interface ISteered extends IRunSummary {
  delivered: 'live' | 'recorded' | 'posted';
  applied: boolean;
}

export interface IStepView {
  id: string;
  skill: string;
  status: string;
  attempts: number;
  output: Record<string, unknown> | null;
  error: string | null;
  reason: string | null;
  approval: boolean | null;
  approval_by: string | null;
  started_ts: number | null;
  ended_ts: number | null;
  duration_s: number | null;
  usage: { tokens: number; cost_usd: number; llm_calls: number };
  /** Latest progress of a running step (remote steps report it), when the server sends it. */
  progress?: IProgress | null;
  /** Structured failure, when the server sends it (else `error` is the text). */
  error_detail?: IStepError | null;
  /** Resolved inputs, when the server sends them (else the plan's templates are shown). */
  inputs?: Record<string, unknown> | null;
}

export interface IRunDetail {
  summary: IRunSummary;
  mermaid: string | null;
  view: {
    created_ts: number | null;
    ended_ts: number | null;
    plan: { steps: { id: string; inputs: Record<string, unknown> }[] } | null;
    steps: IStepView[];
  };
  /** While the run is live: the end of what the model streams, per running step. */
  streams?: Record<string, string>;
}

export interface IArtifactRef {
  sha256: string;
  size: number;
  name: string;
  media_type: string;
}

export const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

export class ApiError extends Error {
  constructor(message: string, readonly hint: string | null) {
    super(message);
  }
}

/** Small typed client of the server extension. */
export class RunsApi {
  private settings = ServerConnection.makeSettings();

  async get<T>(...path: string[]): Promise<T> {
    return this.request<T>(path, { method: 'GET' });
  }

  async post<T>(body: Record<string, unknown>, ...path: string[]): Promise<T> {
    return this.request<T>(path, { method: 'POST', body: JSON.stringify(body) });
  }

  /** A raw authenticated GET (artifacts). */
  async fetch(...path: string[]): Promise<Response> {
    const resp = await ServerConnection.makeRequest(this.url(...path), {}, this.settings);
    if (!resp.ok) {
      throw new ApiError(`HTTP ${resp.status}`, null);
    }
    return resp;
  }

  url(...path: string[]): string {
    return URLExt.join(this.settings.baseUrl, 'sgr', 'api', 'v1', ...path.map(encodeURIComponent));
  }

  private async request<T>(path: string[], init: RequestInit): Promise<T> {
    const resp = await ServerConnection.makeRequest(this.url(...path), init, this.settings);
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      throw new ApiError(data.message ?? `HTTP ${resp.status}`, data.hint ?? null);
    }
    return data as T;
  }
}
