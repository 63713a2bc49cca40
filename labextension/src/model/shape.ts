// The DAG's shape, read from the kernel's Mermaid text (sgr_kernel/graph/mermaid.py): how many
// layers deep and how wide it is, which direction lays it out best in the room there is, and
// the state palette. Pure functions, unit-tested.

export interface IShape {
  nodes: number;
  /** Longest path, in nodes (the number of layers). */
  depth: number;
  /** The widest layer, in nodes. */
  breadth: number;
}

const NODE = /^\s*(s_[A-Za-z0-9_]+)\s*\[/;
const EDGE = /^\s*(s_[A-Za-z0-9_]+)\s*-->\s*(s_[A-Za-z0-9_]+)\s*$/;

/** Nodes, layers (longest-path layering) and the widest layer of a Mermaid flowchart. */
export function shapeOf(text: string): IShape {
  const nodes: string[] = [];
  const ups = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const e = EDGE.exec(line);
    if (e) {
      const list = ups.get(e[2]) ?? [];
      list.push(e[1]);
      ups.set(e[2], list);
      continue;
    }
    const n = NODE.exec(line);
    if (n) {
      nodes.push(n[1]);
    }
  }
  const layer = new Map<string, number>();
  const visit = (id: string, seen: Set<string>): number => {
    const known = layer.get(id);
    if (known !== undefined) {
      return known;
    }
    if (seen.has(id)) {
      return 0; // a cycle cannot come from a validated plan; never loop on one
    }
    seen.add(id);
    let l = 0;
    for (const u of ups.get(id) ?? []) {
      l = Math.max(l, visit(u, seen) + 1);
    }
    layer.set(id, l);
    return l;
  };
  // Iterative order keeps deep chains (1,000 steps) off the recursion limit: plan order puts
  // upstream steps first, so each visit is one level deep.
  for (const id of nodes) {
    visit(id, new Set());
  }
  const width = new Map<number, number>();
  for (const l of layer.values()) {
    width.set(l, (width.get(l) ?? 0) + 1);
  }
  return {
    nodes: nodes.length,
    depth: nodes.length ? Math.max(...layer.values()) + 1 : 0,
    breadth: nodes.length ? Math.max(...width.values()) : 0
  };
}

/** Approximate size of a laid-out node and the gaps Mermaid leaves, in px at scale 1. */
const NODE_W = 150;
const NODE_H = 62;
const GAP_RANK = 50;
const GAP_NODE = 30;

/** The laid-out size of a shape in each direction (estimates: enough to compare). */
export function estimate(s: IShape, dir: 'TD' | 'LR'): { w: number; h: number } {
  const across = s.breadth;
  const along = s.depth;
  if (dir === 'TD') {
    return { w: across * (NODE_W + GAP_NODE), h: along * (NODE_H + GAP_RANK) };
  }
  return { w: along * (NODE_W + GAP_RANK), h: across * (NODE_H + GAP_NODE) };
}

/**
 * The direction that shows the graph largest in a `boxW` x `boxH` box: the one whose fitted
 * scale is bigger. A deep chain goes top-down in a wide cell only while it fits; a wide
 * fan-out goes left-right so its parallel steps stack instead of running off the side.
 */
export function chooseDirection(s: IShape, boxW: number, boxH: number): 'TD' | 'LR' {
  if (s.nodes <= 1) {
    return 'TD';
  }
  const fit = (dir: 'TD' | 'LR'): number => {
    const { w, h } = estimate(s, dir);
    // Capped at 1: when both fit at full size, top-down (the familiar reading) wins.
    return Math.min(1, boxW / Math.max(w, 1), boxH / Math.max(h, 1));
  };
  return fit('LR') > fit('TD') * 1.05 ? 'LR' : 'TD';
}

/** The same flowchart laid out in `dir` (only the header line changes). */
export function withDirection(text: string, dir: 'TD' | 'LR'): string {
  return text.replace(/^(\s*flowchart\s+)(TD|TB|LR|BT|RL)\b/, `$1${dir}`);
}

/** The per-state styles the kernel declares (`classDef sgr_running fill:…,stroke:…`). */
export function readPalette(text: string): Record<string, Record<string, string>> {
  const palette: Record<string, Record<string, string>> = {};
  for (const m of text.matchAll(/^\s*classDef (sgr_\w+) (.+)$/gm)) {
    const style: Record<string, string> = {};
    for (const kv of m[2].split(',')) {
      const at = kv.indexOf(':');
      if (at > 0) {
        style[kv.slice(0, at).trim()] = kv.slice(at + 1).trim();
      }
    }
    palette[m[1]] = style;
  }
  return palette;
}

/** The room a DAG gets: taller for bigger plans, within the page. */
export function dagHeight(s: IShape, dir: 'TD' | 'LR', viewportH: number): number {
  const natural = estimate(s, dir).h + 40;
  return Math.round(Math.max(120, Math.min(natural, Math.max(320, viewportH * 0.7))));
}
