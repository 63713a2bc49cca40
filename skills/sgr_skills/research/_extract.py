"""Text out of Markdown, plain text and HTML, cut into passages of a few sentences.

HTML is parsed with the standard library's ``html.parser``: scripts, styles, navigation and
comments are dropped; everything else is text. What a page *says* stays data — nothing here
(nor anywhere after it) acts on it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["SUFFIXES", "chunk", "extract_file", "extract_html", "normalise"]

SUFFIXES = frozenset({".md", ".markdown", ".txt", ".rst", ".html", ".htm"})
"""File kinds a corpus folder is indexed for (others are skipped)."""

_SKIP_TAGS = frozenset({"script", "style", "noscript", "nav", "template", "svg", "head"})
_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dt", "dd", "tr", "br", "section"}
)
_WS = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Whitespace collapsed and case folded: how passages and quotes are compared."""
    return _WS.sub(" ", text).strip().casefold()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def extract_html(html: str) -> tuple[str, str]:
    """(title, text) of an HTML document."""
    p = _Text()
    p.feed(html)
    p.close()
    text = re.sub(r"[ \t\r\f\v]+", " ", "".join(p.parts))
    text = re.sub(r"\n\s*\n+", "\n\n", text).strip()
    return _WS.sub(" ", p.title).strip(), text


def extract_file(path: Path, data: bytes) -> tuple[str, str]:
    """(title, text) of a file; the title is its first heading, else its file name."""
    raw = data.decode("utf-8", errors="replace")
    if path.suffix.lower() in (".html", ".htm"):
        title, text = extract_html(raw)
        return title or path.stem, text
    title = path.stem
    for line in raw.splitlines():
        s = line.strip()
        if s:
            title = s.lstrip("#").strip() or title
            break
    return title[:200], raw


def chunk(text: str, *, target: int = 700, limit: int = 1200) -> list[str]:
    """Paragraph-aligned passages of about ``target`` characters (none over ``limit``)."""
    out: list[str] = []
    cur = ""
    for raw in re.split(r"\n\s*\n", text):
        para = _WS.sub(" ", raw).strip()
        if not para:
            continue
        while len(para) > limit:  # a wall of text: cut at a sentence end near the limit
            cut = para.rfind(". ", 0, limit)
            cut = cut + 1 if cut > target // 2 else limit
            if cur:
                out.append(cur)
                cur = ""
            out.append(para[:cut].strip())
            para = para[cut:].strip()
        if cur and len(cur) + len(para) + 1 > target:
            out.append(cur)
            cur = para
        else:
            cur = f"{cur} {para}".strip()
    if cur:
        out.append(cur)
    return out
