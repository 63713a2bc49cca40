// Mermaid for a widget outside our labextension: the kernel sends its bundle once per page.
import { Mermaid } from '../dag/dagView';

/** The part of anywidget's model that asks the kernel for the bundle. */
export interface IMessenger {
  on(event: string, cb: (...args: any[]) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  off(event: string, cb: (...args: any[]) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  send(content: unknown, callbacks?: unknown, buffers?: unknown): void;
}

// The fallback bundle is fetched once per page: each widget imports its own copy of this
// module (a blob: URL per model), so the shared promise lives on globalThis.
export async function getMermaid(model: IMessenger): Promise<Mermaid | null> {
  const g = globalThis as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const mgr = g.__sgrMermaidManager;
  if (mgr) {
    return await mgr.getMermaid();
  }
  if (!g.__sgrMermaidBundle) {
    g.__sgrMermaidBundle = new Promise(resolve => {
      const onMsg = async (msg: any, buffers: ArrayBuffer[] | DataView[]): Promise<void> => { // eslint-disable-line @typescript-eslint/no-explicit-any
        if (msg?.type === 'mermaid-bundle' && buffers?.length) {
          model.off('msg:custom', onMsg);
          const url = URL.createObjectURL(new Blob([buffers[0]], { type: 'text/javascript' }));
          try {
            const m = await import(/* webpackIgnore: true */ url);
            const mermaid = m.default ?? m.mermaid;
            mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
            resolve(mermaid);
          } catch (e) {
            console.warn('sgr: mermaid bundle failed', e);
            resolve(null);
          }
        } else if (msg?.type === 'no-mermaid') {
          model.off('msg:custom', onMsg);
          resolve(null);
        }
      };
      model.on('msg:custom', onMsg);
      model.send({ type: 'need-mermaid' });
    });
  }
  return await g.__sgrMermaidBundle;
}

