// The final answer as Markdown: marked parses it, DOMPurify sanitises the HTML (no scripts,
// no event handlers, no remote content is fetched from it), links open in a new tab.
import DOMPurify from 'dompurify';
import { marked } from 'marked';

/** Safe HTML for a Markdown text (GitHub-flavoured, line breaks kept). */
export function markdownToHtml(md: string): string {
  const raw = marked.parse(md, { async: false, gfm: true, breaks: true }) as string;
  return DOMPurify.sanitize(raw, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'iframe', 'object', 'embed'],
    FORBID_ATTR: ['style']
  });
}

/** Render `md` into `el` (replacing what was there). `format` "text" shows it verbatim. */
export function renderAnswer(el: HTMLElement, md: string, format = 'markdown'): void {
  el.classList.add('sgr-answer');
  if (format && !['markdown', 'md', ''].includes(format.toLowerCase())) {
    const pre = document.createElement('pre');
    pre.textContent = md;
    el.replaceChildren(pre);
    return;
  }
  el.innerHTML = markdownToHtml(md);
  // Images only from data: URLs (the answer's own): a remote one would be a request leaving
  // the machine, and a broken one helps nobody. Its alt text stays.
  for (const img of Array.from(el.querySelectorAll('img'))) {
    if (!(img.getAttribute('src') ?? '').startsWith('data:image/')) {
      const alt = img.getAttribute('alt');
      img.replaceWith(alt ? `[image: ${alt}]` : '');
    }
  }
  for (const a of Array.from(el.querySelectorAll('a'))) {
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
  }
}
