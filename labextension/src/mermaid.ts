// Hands Mermaid to the RunView widget, so the widget's own ESM ships no Mermaid at all.
//
// anywidget loads a widget's ESM from a blob: URL, which cannot import Lab's shared modules,
// so the hand-over is a global the widget looks for first (sgr_jupyter/_esm/runview.js).
// Without this plugin (VS Code, Colab...) the widget asks the kernel for the bundled fallback.
//
// The Mermaid handed over is our flow-only build (labextension/build-mermaid.mjs), served by
// Jupyter from this extension's static folder on 127.0.0.1: it patches Mermaid's getConfig()
// copy, which was most of the time of a 200-node render in Lab's own Mermaid (2-3 s against
// under 1 s, bench/ui_bench.py). It follows Lab's Mermaid theme; if it cannot be loaded, Lab's
// own Mermaid is used.
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { IMermaidManager } from '@jupyterlab/mermaid';

/** The name of the global the widget reads; keep in sync with runview.js. */
export const MERMAID_GLOBAL = '__sgrMermaidManager';

/** Our bundle inside the built labextension (build-mermaid.mjs copies it there). */
const BUNDLE = 'sgr-jupyter/static/sgr-mermaid.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Mermaid = any;

/** What the widget calls: `getMermaid()`; `lab` is Lab's own manager (the bench baseline). */
export interface ISgrMermaidManager {
  getMermaid(): Promise<Mermaid | null>;
  lab: IMermaidManager | null;
}

export function sgrMermaidManager(lab: IMermaidManager | null): ISgrMermaidManager {
  let loaded: Promise<Mermaid | null> | null = null;
  let theme: string | null = null;
  const load = (): Promise<Mermaid | null> => {
    const base = PageConfig.getOption('fullLabextensionsUrl') || URLExt.join(PageConfig.getBaseUrl(), 'lab/extensions');
    const url = URLExt.join(base, BUNDLE);
    return import(/* webpackIgnore: true */ url)
      .then((m: Mermaid) => m.default ?? m.mermaid)
      .catch((e: unknown) => {
        console.warn("sgr: fast Mermaid not loaded, using Lab's", e);
        return null;
      });
  };
  return {
    lab,
    async getMermaid(): Promise<Mermaid | null> {
      const own = lab ? await lab.getMermaid() : null;
      loaded ??= load();
      const fast = await loaded;
      if (!fast) {
        return own;
      }
      // Re-read Lab's theme on every call: Lab re-initialises its Mermaid on a theme switch.
      const wanted = own?.mermaidAPI?.getSiteConfig?.()?.theme ?? 'default';
      if (wanted !== theme) {
        fast.initialize({ startOnLoad: false, securityLevel: 'strict', theme: wanted });
        theme = wanted;
      }
      return fast;
    }
  };
}

export const mermaidPlugin: JupyterFrontEndPlugin<void> = {
  id: 'sgr-jupyter:mermaid',
  description: 'Expose an offline Mermaid to the sgr RunView widget (DAGs).',
  autoStart: true,
  optional: [IMermaidManager],
  activate: (_app: JupyterFrontEnd, mermaid: IMermaidManager | null) => {
    (globalThis as Record<string, unknown>)[MERMAID_GLOBAL] = sgrMermaidManager(mermaid);
  }
};
