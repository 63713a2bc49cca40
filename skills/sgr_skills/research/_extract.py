"""Text out of Markdown, plain text, HTML and PDF, cut into passages of a few sentences.

HTML is parsed with the standard library's ``html.parser``: scripts, styles, navigation and
comments are dropped; everything else is text. PDFs are read with ``pypdf`` (the ``research``
extra): the text layer of each page, in page order; a scanned PDF without one has no text and
is skipped. What a document *says* stays data — nothing here (nor anywhere after it) acts on it.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

__all__ = [
    "SUFFIXES",
    "Unreadable",
    "chunk",
    "extract_file",
    "extract_html",
    "extract_pdf",
    "normalise",
]

SUFFIXES = frozenset({".md", ".markdown", ".txt", ".rst", ".html", ".htm", ".pdf"})
"""File kinds a corpus folder is indexed for (others are skipped)."""

_SKIP_TAGS = frozenset({"script", "style", "noscript", "nav", "template", "svg", "head"})
_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dt", "dd", "tr", "br", "section"}
)
_WS = re.compile(r"\s+")
MAX_PDF_PAGES = 2000
MAX_TEXT_CHARS = 8 << 20
"""A PDF's text stops at this many pages or characters (a huge file is still searchable)."""


class Unreadable(Exception):
    """A file of a known kind whose text cannot be read; the message says why and what to do."""


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


def extract_pdf(data: bytes) -> tuple[str, str]:
    """(title, text) of a PDF: its metadata title (or ""), and its pages' text layer.

    Raises :class:`Unreadable` when pypdf is not installed, the file is not a PDF it can
    parse, it is encrypted, or it has no text layer (a scan).
    """
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:
        raise Unreadable("reading PDFs needs pypdf: pip install 'sgr-jupyter[research]'") from None
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Unreadable("the PDF is encrypted; save a decrypted copy to index it")
        pages: list[str] = []
        size = 0
        for page in reader.pages[:MAX_PDF_PAGES]:
            text = page.extract_text() or ""
            pages.append(text)
            size += len(text)
            if size >= MAX_TEXT_CHARS:
                break
        meta = reader.metadata
        title = str(meta.title or "") if meta is not None else ""
    except (PyPdfError, ValueError, KeyError, TypeError, RecursionError) as e:
        raise Unreadable(f"not a readable PDF ({type(e).__name__}: {e})") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise Unreadable("the PDF has no text layer (a scan?); run OCR on it first")
    return _WS.sub(" ", title).strip(), text[:MAX_TEXT_CHARS]


def extract_file(path: Path, data: bytes) -> tuple[str, str]:
    """(title, text) of a file; the title is its first heading, else its file name.

    Raises :class:`Unreadable` for a PDF whose text cannot be read.
    """
    if path.suffix.lower() == ".pdf":
        title, text = extract_pdf(data)
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return (title or first or path.stem)[:200], text
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
