// The "Agent runs" side panel: every run in the store (live), one run's DAG, timeline and step
// I/O, and approve / deny / cancel / resume / export, all through the server extension's REST
// API under /sgr/api/v1/ (sgr_jupyter/server). The kernel describes, the panel displays: the
// DAG text comes from the server (plan_to_mermaid), the panel only renders it, through the
// same DAG view as the RunView widget (src/dag). This class polls and steers; the views are
// runsList.ts and runDetail.ts.
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IMermaidManager } from '@jupyterlab/mermaid';
import { listIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { DagView } from '../dag/dagView';
import { ISgrMermaidManager, sgrMermaidManager } from '../mermaid';
import { isTerminal } from '../model/state';
import { ApiError, IRunDetail, IRunSummary, ISteered, RunsApi } from '../runsApi';
import { h } from '../views/dom';
import { injectSharedCss } from '../views/sharedCss';
import { button, dagFor, head, IDetailHost, steps, timeline } from './runDetail';
import { runsList } from './runsList';

/** The panel's DOM id; browser tests click `.lm-TabBar-tab[data-id=…]`. */
export const PANEL_ID = 'sgr-runs-panel';
const POLL_MS = 1500;

/** How the panel steers a run that another process writes (one writer per run, ADR 011). */
const ELSEWHERE =
  'Live in another process (a notebook kernel?): approve, deny and cancel are sent to it ' +
  "through the run's inbox, and it records and applies them.";

/** What the panel says after steering a run live in another process. */
function posted(what: string, r: ISteered): string {
  if (r.applied) {
    return `${what}: sent to the running notebook… applied.`;
  }
  return (
    `${what}: sent to the running notebook, not applied yet: it applies it when it next ` +
    'reads its inbox (or when the run is resumed).'
  );
}

/** The side panel widget: a runs list, or one run's detail. */
export class RunsPanel extends Widget implements IDetailHost {
  private api = new RunsApi();
  private selected: string | null = null;
  /** A steering request in flight: its buttons stay disabled across polls (no double send). */
  private busy = false;
  private timer = 0;
  private dag: DagView | null = null;
  private blobs = new Map<string, Promise<string>>();
  private readonly message = h('div', 'sgr-Panel-message');
  private readonly body = h('div', 'sgr-Panel-body');

  constructor(private readonly mermaid: ISgrMermaidManager | null) {
    super();
    this.id = PANEL_ID;
    this.addClass('sgr-Panel');
    this.title.icon = listIcon;
    this.title.caption = 'Agent runs (sgr)';
    injectSharedCss();
    this.node.append(h('div', 'sgr-Panel-header', 'Agent runs'), this.message, this.body);
  }

  protected onAfterShow(): void {
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), POLL_MS);
  }

  protected onAfterHide(): void {
    window.clearInterval(this.timer);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    this.dag?.dispose();
    super.dispose();
  }

  /** Re-read what is shown (list or detail) from the server. */
  async refresh(): Promise<void> {
    try {
      if (this.selected) {
        this.showDetail(await this.api.get<IRunDetail>('runs', this.selected));
      } else {
        const data = await this.api.get<{ root: string; runs: IRunSummary[] }>('runs');
        this.body.replaceChildren(...runsList(data.root, data.runs, id => this.open(id)));
      }
    } catch (e) {
      this.say(e);
    }
  }

  private say(e: unknown): void {
    const err = e as ApiError;
    this.clearMessage();
    this.message.textContent = err?.message ?? String(e);
    if (err?.hint) {
      this.message.textContent += ` (${err.hint})`;
    }
    this.message.classList.add('sgr-mod-error');
  }

  private inform(text: string, pending = false): void {
    this.clearMessage();
    this.message.textContent = text;
    this.message.classList.add(pending ? 'sgr-mod-pending' : 'sgr-mod-info');
  }

  private clearMessage(): void {
    this.message.textContent = '';
    this.message.classList.remove('sgr-mod-error', 'sgr-mod-info', 'sgr-mod-pending');
  }

  /** Approve / deny / cancel / resume; `what` names it in the feedback ("approve publish"). */
  act(what: string, s: IRunSummary, action: string, body: Record<string, unknown>): void {
    void this.steer(what, s, action, body);
  }

  private async steer(
    what: string,
    s: IRunSummary,
    action: string,
    body: Record<string, unknown>
  ): Promise<void> {
    if (this.busy) {
      return;
    }
    this.busy = true;
    if (s.live === 'elsewhere') {
      // The server waits (briefly) for that process to record it: say so meanwhile.
      this.inform(`${what}: sending to the running notebook…`, true);
    }
    try {
      const r = await this.api.post<ISteered>(body, 'runs', s.run_id, action);
      if (r.delivered === 'posted') {
        this.inform(posted(what, r));
      } else {
        this.clearMessage();
      }
    } catch (e) {
      this.say(e);
    } finally {
      this.busy = false;
    }
    await this.refresh();
  }

  private open(runId: string | null): void {
    this.selected = runId;
    this.dag?.dispose();
    this.dag = null;
    this.body.textContent = '';
    this.clearMessage();
    void this.refresh();
  }

  private showDetail(d: IRunDetail): void {
    const s = d.summary;
    const open = !isTerminal(s.status);
    const elsewhere = s.live === 'elsewhere' ? ELSEWHERE : null;
    const sending = this.busy ? 'sending…' : null;
    const actions = h(
      'div',
      'sgr-Panel-actions',
      null,
      button('← Runs', 'sgr-Panel-back', () => this.open(null)),
      open ? button('Cancel', 'sgr-Panel-cancel', () => this.act('cancel', s, 'cancel', {}), sending) : null,
      open && !s.live
        ? button('Resume', 'sgr-Panel-resume', () => this.act('resume', s, 'resume', {}), sending)
        : null,
      button('Export', 'sgr-Panel-export', () => void this.exportRun(s.run_id))
    );
    // One DAG view per opened run, kept across polls: re-rendering would flicker.
    this.dag ??= new DagView({
      uid: `sgr-panel-${Math.random().toString(36).slice(2)}`,
      getMermaid: () => (this.mermaid ? this.mermaid.getMermaid() : Promise.resolve(null)),
      onSelect: step => this.reveal(step)
    });
    this.dag.node.classList.add('sgr-Panel-dag');
    // Keep open <details> open across polls.
    const openIds = new Set(
      Array.from(this.body.querySelectorAll<HTMLDetailsElement>('details.sgr-Panel-step[open]')).map(
        e => e.dataset.stepId
      )
    );
    const foldOpen = this.body.querySelector<HTMLDetailsElement>('details.sgr-Panel-timelineFold')?.open ?? false;
    const tl = timeline(d);
    if (tl instanceof HTMLDetailsElement) {
      tl.open = foldOpen;
    }
    this.body.replaceChildren(
      actions,
      head(s, elsewhere),
      dagFor(this.dag, d),
      h('div', 'sgr-Panel-section', 'Timeline'),
      tl,
      h('div', 'sgr-Panel-section', 'Steps'),
      steps(this, d, s, sending, openIds)
    );
  }

  /** A node was clicked: open that step's details and bring them into view. */
  private reveal(step: string): void {
    this.dag?.select(step);
    const item = Array.from(this.body.querySelectorAll<HTMLDetailsElement>('details.sgr-Panel-step')).find(
      e => e.dataset.stepId === step
    );
    if (item) {
      item.open = true;
      item.scrollIntoView({ block: 'nearest' });
    }
  }

  blobUrl(runId: string, sha: string): Promise<string> {
    let url = this.blobs.get(sha);
    if (!url) {
      url = this.api
        .fetch('runs', runId, 'artifacts', sha)
        .then(r => r.blob())
        .then(b => URL.createObjectURL(b));
      this.blobs.set(sha, url);
    }
    return url;
  }

  private async exportRun(runId: string): Promise<void> {
    try {
      const data = await this.api.get<unknown>('runs', runId, 'export');
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = `sgr-${runId}.json`;
      a.click();
      URL.revokeObjectURL(a.href);
    } catch (e) {
      this.say(e);
    }
  }
}

export const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'sgr-jupyter:runs-panel',
  description: 'A side panel listing sgr agent runs, with their DAG, timeline and approvals.',
  autoStart: true,
  optional: [IMermaidManager, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    mermaid: IMermaidManager | null,
    restorer: ILayoutRestorer | null
  ) => {
    const panel = new RunsPanel(sgrMermaidManager(mermaid));
    app.shell.add(panel, 'left', { rank: 900 });
    if (restorer) {
      restorer.add(panel, PANEL_ID);
    }
  }
};
