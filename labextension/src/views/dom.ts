// Small DOM helpers shared by the widget and the side panel.

/** Create an element with a class, text and children. */
export function h(
  tag: string,
  cls = '',
  text?: string | null,
  ...children: (Node | null | undefined)[]
): HTMLElement {
  const el = document.createElement(tag);
  if (cls) {
    el.className = cls;
  }
  if (text) {
    el.textContent = text;
  }
  for (const c of children) {
    if (c) {
      el.appendChild(c);
    }
  }
  return el;
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null';
}
