import { describe, expect, it } from 'vitest';

import { chooseDirection, dagHeight, readPalette, shapeOf, withDirection } from '../src/model/shape';

function chart(n: number, edges: [number, number][]): string {
  const lines = ['flowchart TD', '  classDef sgr_running fill:#dbeafe,stroke:#2563eb,color:#1e3a8a,stroke-width:2px'];
  for (let i = 0; i < n; i++) {
    lines.push(`  s_n${i}["n${i}<br/>format"]`);
  }
  for (const [a, b] of edges) {
    lines.push(`  s_n${a} --> s_n${b}`);
  }
  return lines.join('\n');
}

describe('shapeOf', () => {
  it('measures a chain', () => {
    const s = shapeOf(chart(5, [[0, 1], [1, 2], [2, 3], [3, 4]]));
    expect(s).toEqual({ nodes: 5, depth: 5, breadth: 1 });
  });
  it('measures a fan-out', () => {
    const edges: [number, number][] = Array.from({ length: 9 }, (_, i) => [0, i + 1]);
    expect(shapeOf(chart(10, edges))).toEqual({ nodes: 10, depth: 2, breadth: 9 });
  });
  it('takes the longest path for layers', () => {
    const s = shapeOf(chart(4, [[0, 1], [1, 2], [0, 2], [2, 3]]));
    expect(s.depth).toBe(4);
  });
  it('handles an empty chart and a 1,000-step chain', () => {
    expect(shapeOf('flowchart TD')).toEqual({ nodes: 0, depth: 0, breadth: 0 });
    const edges: [number, number][] = Array.from({ length: 999 }, (_, i) => [i, i + 1]);
    expect(shapeOf(chart(1000, edges)).depth).toBe(1000);
  });
});

describe('layout by shape', () => {
  it('a wide fan-out goes left-right in a wide cell; a short chain top-down', () => {
    const fan = { nodes: 40, depth: 2, breadth: 39 };
    expect(chooseDirection(fan, 900, 600)).toBe('LR');
    const chain = { nodes: 4, depth: 4, breadth: 1 };
    expect(chooseDirection(chain, 900, 600)).toBe('TD');
    const long = { nodes: 30, depth: 30, breadth: 1 };
    expect(chooseDirection(long, 900, 600)).toBe('TD');
    expect(chooseDirection(long, 1600, 300)).toBe('LR');
    const grid = { nodes: 250, depth: 25, breadth: 10 };
    expect(['TD', 'LR']).toContain(chooseDirection(grid, 900, 600));
    expect(chooseDirection({ nodes: 1, depth: 1, breadth: 1 }, 900, 600)).toBe('TD');
  });
  it('a tall narrow box prefers top-down for a chain', () => {
    expect(chooseDirection({ nodes: 6, depth: 6, breadth: 1 }, 300, 900)).toBe('TD');
  });
  it('rewrites only the header', () => {
    expect(withDirection('flowchart TD\n  s_a["TD"]', 'LR')).toBe('flowchart LR\n  s_a["TD"]');
  });
  it('gives big plans more room, within the window', () => {
    const small = dagHeight({ nodes: 2, depth: 2, breadth: 1 }, 'TD', 1000);
    const big = dagHeight({ nodes: 250, depth: 25, breadth: 10 }, 'TD', 1000);
    expect(big).toBeGreaterThan(small);
    expect(big).toBeLessThanOrEqual(700);
  });
});

describe('readPalette', () => {
  it('reads the kernel classDefs', () => {
    const p = readPalette(chart(1, []));
    expect(p.sgr_running).toEqual({
      fill: '#dbeafe',
      stroke: '#2563eb',
      color: '#1e3a8a',
      'stroke-width': '2px'
    });
  });
});
