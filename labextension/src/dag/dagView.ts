// A DAG you can read at any size: Mermaid lays it out in the direction that suits its shape,
// it is fitted into the room it gets but never below a readable label size (what does not fit
// is panned to), @panzoom/panzoom zooms and pans it, and a button expands it to the whole
// window. Shared by the RunView widget and the side panel.
import Panzoom, { PanzoomObject } from '@panzoom/panzoom';

import { chooseDirection, dagHeight, readPalette, shapeOf, withDirection } from '../model/shape';
import { indexNodes, markSelected, Palette, paintNode, paintStates, stepIdOf } from './paint';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Mermaid = any;

/** Labels are never fitted below this many CSS px. */
export const READABLE_PX = 12;
/** Above this many steps a Mermaid layout blocks the page for seconds: a grid is drawn. */
export const MAX_DAG_NODES = 300;

export interface IDagOptions {
  /** Mermaid to render with, or null (the text is shown instead). */
  getMermaid: () => Promise<Mermaid | null>;
  /** A step was clicked. */
  onSelect: (step: string) => void;
  /** A unique id prefix for Mermaid's render ids (one per view). */
  uid: string;
}

// Mermaid's render is not re-entrant (it measures text in a shared scratch element), so every
// DAG on the page renders through one queue, kept on globalThis: each anywidget instance
// imports its own copy of this module.
function renderQueued(mermaid: Mermaid, id: string, text: string): Promise<{ svg: string }> {
  const g = globalThis as Record<string, unknown>;
  const prev = (g.__sgrRenderQueue as Promise<unknown>) ?? Promise.resolve();
  const next = prev.catch(() => null).then(() => mermaid.render(id, text));
  g.__sgrRenderQueue = next.catch(() => null);
  return next;
}

function button(label: string, title: string, cls: string, onClick: () => void): HTMLElement {
  const b = document.createElement('button');
  b.className = `sgr-dag-btn ${cls}`;
  b.textContent = label;
  b.title = title;
  b.type = 'button';
  b.addEventListener('click', e => {
    e.stopPropagation();
    onClick();
  });
  return b;
}

export class DagView {
  /** The element to place in a page. */
  readonly node: HTMLElement;
  private readonly viewport: HTMLElement;
  private readonly stage: HTMLElement;
  private readonly expandBtn: HTMLElement;
  private nodes = new Map<string, Element>();
  private palette: Palette = {};
  private rendered: string | null = null;
  private states: Record<string, string> = {};
  private selected: string | null = null;
  private pz: PanzoomObject | null = null;
  private size = { w: 0, h: 0 };
  private expanded = false;
  private seq = 0;
  private down: { x: number; y: number } | null = null;
  /** Re-fit when the box changes size, until the user zooms or pans. */
  private autoFit = true;
  private readonly placeholder = Object.assign(document.createElement('div'), {
    className: 'sgr-dag-placeholder'
  });
  private resize: ResizeObserver | null = null;

  constructor(private readonly opts: IDagOptions) {
    this.node = document.createElement('div');
    this.node.className = 'sgr-dag';
    this.viewport = document.createElement('div');
    this.viewport.className = 'sgr-dag-viewport';
    this.stage = document.createElement('div');
    this.stage.className = 'sgr-dag-stage';
    this.viewport.append(this.stage);
    this.expandBtn = button('⤢', 'Expand the DAG to the whole window (Esc to close)', 'sgr-dag-expand', () =>
      this.setExpanded(!this.expanded)
    );
    const bar = document.createElement('div');
    bar.className = 'sgr-dag-bar';
    bar.append(
      button('+', 'Zoom in (or Ctrl + wheel)', 'sgr-dag-zoomin', () => this.zoomBy(true)),
      button('−', 'Zoom out (or Ctrl + wheel)', 'sgr-dag-zoomout', () => this.zoomBy(false)),
      button('Fit', 'Fit the DAG, keeping labels readable', 'sgr-dag-fit', () => this.fit()),
      this.expandBtn
    );
    this.node.append(bar, this.viewport);
    // Wheel zooms with Ctrl (or always when expanded); otherwise the notebook scrolls.
    this.viewport.addEventListener('wheel', e => {
      if (this.pz && (e.ctrlKey || e.metaKey || this.expanded)) {
        this.autoFit = false;
        this.pz.zoomWithWheel(e);
      }
    });
    // A click selects a step; the end of a drag does not.
    this.viewport.addEventListener(
      'pointerdown',
      e => {
        this.down = { x: e.clientX, y: e.clientY };
        this.autoFit = false;
      },
      true
    );
    if (typeof ResizeObserver !== 'undefined') {
      let last = '';
      this.resize = new ResizeObserver(() => {
        const now = `${this.viewport.clientWidth}x${this.viewport.clientHeight}`;
        if (now !== last && this.autoFit) {
          last = now;
          this.fit();
        }
      });
      this.resize.observe(this.viewport);
    }
    this.viewport.addEventListener('click', e => {
      const moved = this.down ? Math.hypot(e.clientX - this.down.x, e.clientY - this.down.y) : 0;
      const g = (e.target as Element).closest?.('[data-sgr-step]');
      if (g && moved < 5) {
        this.opts.onSelect(g.getAttribute('data-sgr-step') as string);
      }
    });
    document.addEventListener('keydown', this.onKey);
  }

  dispose(): void {
    if (this.expanded) {
      this.setExpanded(false);
    }
    document.removeEventListener('keydown', this.onKey);
    this.resize?.disconnect();
    this.pz?.destroy();
  }

  private onKey = (e: KeyboardEvent): void => {
    if (e.key === 'Escape' && this.expanded) {
      this.setExpanded(false);
    }
  };

  /** Draw a plan (Mermaid text from the kernel). Re-rendering the same text is a no-op. */
  async setPlan(text: string | null): Promise<void> {
    if (!text) {
      this.rendered = null;
      this.nodes = new Map();
      this.stage.replaceChildren(Object.assign(document.createElement('div'), {
        className: 'sgr-dag-empty',
        textContent: 'The plan is being made…'
      }));
      this.node.removeAttribute('data-sgr-rendered');
      return;
    }
    if (text === this.rendered) {
      return;
    }
    this.rendered = text;
    this.palette = readPalette(text);
    const shape = shapeOf(text);
    this.node.dataset.sgrSteps = String(shape.nodes);
    this.node.classList.toggle('sgr-dag-big', shape.nodes > 25);
    if (shape.nodes > MAX_DAG_NODES) {
      this.drawGrid(text);
      return;
    }
    const mermaid = await this.opts.getMermaid();
    if (text !== this.rendered) {
      return; // a newer plan arrived meanwhile
    }
    if (!mermaid) {
      this.showText(text, '');
      return;
    }
    const boxW = Math.max(this.node.clientWidth || 0, 480);
    const viewportH = (globalThis.innerHeight as number) || 900;
    const dir = chooseDirection(shape, boxW, Math.max(320, viewportH * 0.7));
    this.node.dataset.sgrDirection = dir;
    try {
      const { svg } = await renderQueued(mermaid, `${this.opts.uid}-${this.seq++}`, withDirection(text, dir));
      if (text !== this.rendered) {
        return;
      }
      // Mermaid's own sanitised output; labels are escaped by the kernel. Lab's renderer
      // prefixes an XML prolog that HTML parsing would show as text: keep the <svg> only.
      const at = svg.indexOf('<svg');
      this.stage.innerHTML = at >= 0 ? svg.slice(at) : svg;
      const el = this.stage.querySelector('svg');
      if (!el) {
        throw new Error('Mermaid returned no SVG');
      }
      const vb = (el.getAttribute('viewBox') ?? '').split(/[\s,]+/).map(Number);
      const w = vb[2] || el.getBoundingClientRect().width || 100;
      const h = vb[3] || el.getBoundingClientRect().height || 100;
      el.setAttribute('width', String(w));
      el.setAttribute('height', String(h));
      el.style.maxWidth = 'none';
      this.size = { w, h };
      this.stage.style.width = `${w}px`;
      this.stage.style.height = `${h}px`;
      this.viewport.style.height = `${dagHeight(shape, dir, viewportH)}px`;
      this.nodes = indexNodes(this.stage);
      paintStates(this.nodes, this.states, this.palette);
      markSelected(this.nodes, this.selected);
      this.setupPanzoom();
      this.fit();
      this.node.dataset.sgrRendered = '1';
    } catch (e) {
      this.showText(text, String(e));
    }
  }

  private showText(text: string, err: string): void {
    const pre = document.createElement('pre');
    pre.className = 'sgr-dag-text';
    pre.textContent = err ? `${err}\n\n${text}` : text;
    this.stage.replaceChildren(pre);
    this.nodes = new Map();
  }

  // A Mermaid layout takes about 0.6 s for 200 nodes but seconds for 1,000, blocking the page
  // (bench/ui_bench.py), so a bigger plan is drawn as a grid of steps, one coloured cell each,
  // clickable like nodes.
  private drawGrid(text: string): void {
    this.pz?.destroy();
    this.pz = null;
    this.stage.removeAttribute('style');
    this.viewport.style.height = '';
    const grid = document.createElement('div');
    grid.className = 'sgr-dag-grid grid';
    this.nodes = new Map();
    for (const m of text.matchAll(/^\s*(s_[A-Za-z0-9_]+)\s*\[/gm)) {
      const c = document.createElement('span');
      c.className = 'sgr-cell cell';
      grid.append(c);
      // The cell's step id comes from the node id (the kernel's injective escape).
      const sid = stepIdOf(m[1]);
      if (sid !== null) {
        c.title = sid;
        c.setAttribute('data-sgr-step', sid);
        this.nodes.set(sid, c);
      }
    }
    this.stage.replaceChildren(grid);
    paintStates(this.nodes, this.states, this.palette);
    markSelected(this.nodes, this.selected);
    this.node.dataset.sgrRendered = 'grid';
  }

  private setupPanzoom(): void {
    this.pz?.destroy();
    this.pz = Panzoom(this.stage, {
      canvas: true,
      maxScale: 4,
      minScale: 0.05,
      step: 0.25,
      cursor: 'grab',
      // Keep the browser from selecting text while dragging, but let clicks through.
      handleStartEvent: (e: Event) => e.preventDefault()
    });
  }

  private zoomBy(into: boolean): void {
    this.autoFit = false;
    if (into) {
      this.pz?.zoomIn();
    } else {
      this.pz?.zoomOut();
    }
    this.node.dataset.sgrScale = (this.pz?.getScale() ?? 1).toFixed(3);
  }

  /** The scale at which labels are READABLE_PX: never fit below it. */
  readableScale(): number {
    const label = this.stage.querySelector('.nodeLabel, .label, text');
    const px = label ? parseFloat(getComputedStyle(label).fontSize) || 16 : 16;
    return READABLE_PX / px;
  }

  /** Fit the DAG into its box, no smaller than readable; what does not fit starts top-left. */
  fit(): void {
    if (!this.pz) {
      return;
    }
    const cw = this.viewport.clientWidth || 600;
    const ch = this.viewport.clientHeight || 400;
    const { w, h } = this.size;
    const s = Math.min(1.25, Math.max(this.readableScale(), Math.min(cw / w, ch / h)));
    // Panzoom's transform is scale(s) translate(x, y) about the stage's centre.
    const left = s * w < cw ? (cw - s * w) / 2 : 8;
    const top = s * h < ch ? (ch - s * h) / 2 : 8;
    const x = (left - (w / 2) * (1 - s)) / s;
    const y = (top - (h / 2) * (1 - s)) / s;
    // Panzoom pans to its start values once after creation (a timeout): make them ours.
    this.pz.setOptions({ startScale: s, startX: x, startY: y });
    this.pz.zoom(s, { animate: false, force: true });
    this.pz.pan(x, y, { animate: false, force: true });
    this.autoFit = true;
    this.node.dataset.sgrScale = s.toFixed(3);
  }

  /** Fill the window with the DAG (and back). */
  setExpanded(on: boolean): void {
    // Lab's panels contain their children (CSS containment), which would bound a fixed box to
    // the notebook: the expanded DAG moves to the page's body, a placeholder keeps its place.
    if (on && !this.expanded && this.node.ownerDocument.body) {
      this.placeholder.style.height = `${this.node.offsetHeight}px`;
      this.node.replaceWith(this.placeholder);
      this.node.ownerDocument.body.appendChild(this.node);
    } else if (!on && this.expanded) {
      if (this.placeholder.isConnected) {
        this.placeholder.replaceWith(this.node);
      } else {
        this.node.remove(); // its host re-rendered meanwhile and will place it again (slot())
      }
    }
    this.expanded = on;
    this.node.classList.toggle('sgr-dag-expanded', on);
    this.expandBtn.textContent = on ? '✕' : '⤢';
    this.expandBtn.title = on ? 'Back to the cell (Esc)' : 'Expand the DAG to the whole window (Esc to close)';
    this.fit();
  }

  isExpanded(): boolean {
    return this.expanded;
  }

  /** What a host that re-renders should place: the DAG, or its placeholder while expanded. */
  slot(): HTMLElement {
    return this.expanded ? this.placeholder : this.node;
  }

  /** Recolour from the live states. */
  paint(states: Record<string, string>): void {
    this.states = states;
    paintStates(this.nodes, states, this.palette);
  }

  /** Outline the step whose detail is open, and bring it into view when it is off screen. */
  select(step: string | null): void {
    this.selected = step;
    markSelected(this.nodes, step);
  }

  /** The element drawn for a step (tests, and the panel's "show in DAG"). */
  nodeOf(step: string): Element | undefined {
    return this.nodes.get(step);
  }

  /** Paint one node (used when a single step changes). */
  paintOne(step: string, status: string): void {
    const g = this.nodes.get(step);
    if (g) {
      paintNode(g, status, this.palette);
    }
  }
}
