// Painting step states onto a rendered Mermaid DAG (or the grid drawn for huge plans): the
// one place both the RunView widget and the side panel recolour nodes.
//
// The Mermaid text carries a classDef per state (sgr_kernel/graph/mermaid.py is the one
// palette). Mermaid 11 writes a node's class styles inline on its shapes, so swapping the
// class alone would not recolour it: the state's style is applied inline, as Mermaid does.

export type Palette = Record<string, Record<string, string>>;

/** Step id of a Mermaid node id (inverse of the kernel's `mermaid_node_id`), or null. */
export function stepIdOf(nodeId: string): string | null {
  if (!nodeId.startsWith('s_')) {
    return null;
  }
  let out = '';
  const s = nodeId.slice(2);
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch !== '_') {
      out += ch;
      continue;
    }
    if (s[i + 1] === '_') {
      out += '_';
      i++;
      continue;
    }
    const m = /^_x([0-9a-f]+)_/.exec(s.slice(i));
    if (!m) {
      return null;
    }
    out += String.fromCodePoint(parseInt(m[1], 16));
    i += m[0].length - 1;
  }
  return out;
}

/** Map a rendered SVG's `g.node` elements to step ids (sets `data-sgr-step`). */
export function indexNodes(svgRoot: ParentNode): Map<string, Element> {
  const nodes = new Map<string, Element>();
  for (const g of Array.from(svgRoot.querySelectorAll('g.node'))) {
    const m = /flowchart-(s_[A-Za-z0-9_]+)-\d+$/.exec(g.id || '');
    const sid = m ? stepIdOf(m[1]) : null;
    if (sid === null) {
      continue;
    }
    nodes.set(sid, g);
    g.setAttribute('data-sgr-step', sid);
  }
  return nodes;
}

/** Colour one node (an SVG `g.node` or a grid cell) for `status`; a no-op when unchanged. */
export function paintNode(g: Element, status: string, palette: Palette): void {
  if (g.getAttribute('data-sgr-status') === status) {
    return;
  }
  g.setAttribute('data-sgr-status', status);
  for (const c of Array.from(g.classList)) {
    if (c.startsWith('sgr_') && c !== 'sgr_sel') {
      g.classList.remove(c);
    }
  }
  const cls = `sgr_${status.toLowerCase()}`;
  g.classList.add(cls);
  const style = palette[cls] ?? {};
  if (g instanceof HTMLElement) {
    g.style.background = style.fill ?? '';
    g.style.borderColor = style.stroke ?? '';
    return;
  }
  for (const shape of Array.from(
    g.querySelectorAll<SVGElement>('rect,path,polygon,circle,ellipse')
  )) {
    if (shape.closest('.label')) {
      continue;
    }
    for (const k of ['fill', 'stroke', 'stroke-width', 'stroke-dasharray']) {
      if (style[k]) {
        shape.style.setProperty(k, style[k], 'important');
      } else {
        shape.style.removeProperty(k);
      }
    }
  }
  for (const t of Array.from(
    g.querySelectorAll<HTMLElement | SVGElement>('.label, .nodeLabel, p, span, text')
  )) {
    if (style.color) {
      t.style.setProperty('color', style.color, 'important');
      if (t.tagName === 'text') {
        t.style.setProperty('fill', style.color, 'important');
      }
    }
  }
}

/** Colour every node from `states` (steps not in it are PENDING). */
export function paintStates(
  nodes: Map<string, Element>,
  states: Record<string, string>,
  palette: Palette
): void {
  for (const [sid, g] of nodes) {
    paintNode(g, states[sid] ?? 'PENDING', palette);
  }
}

/** Outline the selected step. */
export function markSelected(nodes: Map<string, Element>, selected: string | null): void {
  for (const [sid, n] of nodes) {
    n.classList.toggle('sgr-sel', sid === selected);
  }
}
