// Hands JupyterLab's own Mermaid to the RunView widget, so the widget ships no Mermaid at all.
//
// anywidget loads a widget's ESM from a blob: URL, which cannot import Lab's shared modules,
// so the hand-over is a global the widget looks for first (sgr_jupyter/_esm/runview.js).
// Without this plugin (Notebook 7 without it, VS Code...) the widget asks the kernel for the
// bundled fallback instead.
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IMermaidManager } from '@jupyterlab/mermaid';

/** The name of the global the widget reads; keep in sync with runview.js. */
export const MERMAID_GLOBAL = '__sgrMermaidManager';

export const mermaidPlugin: JupyterFrontEndPlugin<void> = {
  id: 'sgr-jupyter:mermaid',
  description: "Expose JupyterLab's Mermaid to the sgr RunView widget (offline DAGs).",
  autoStart: true,
  optional: [IMermaidManager],
  activate: (_app: JupyterFrontEnd, mermaid: IMermaidManager | null) => {
    if (mermaid) {
      (globalThis as Record<string, unknown>)[MERMAID_GLOBAL] = mermaid;
    }
  }
};
