"""PDFs in a corpus folder: their text layer is indexed, cited and re-checked; a PDF that cannot
be read is skipped with the reason, never fatal to the rest of the folder."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from sgr_skills.research._extract import Unreadable, extract_pdf
from sgr_skills.research._index import CorpusIndex


def make_pdf(pages: list[list[str]], title: str = "") -> bytes:
    """A real PDF (Helvetica text objects, a correct cross-reference table), one list of
    lines per page."""
    objs: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    font = 3
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for lines in pages:
        ops = ["BT /F1 12 Tf 72 720 Td 14 TL"]
        for line in lines:
            esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({esc}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objs.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content = len(objs)
        objs.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content, font)
        )
        kids.append(len(objs))
    objs[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    info = None
    if title:
        objs.append(b"<< /Title (%s) >>" % title.encode("latin-1"))
        info = len(objs)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (i, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    trailer = b"<< /Size %d /Root 1 0 R%s >>" % (
        len(objs) + 1,
        b" /Info %d 0 R" % info if info else b"",
    )
    out.write(b"trailer\n%s\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref))
    return out.getvalue()


PAPER = make_pdf(
    [
        ["Write-ahead logging", "", "A write-ahead log records every change before it is applied."],
        ["Recovery replays committed records and truncates a torn tail."],
    ],
    title="WAL design notes",
)


def test_the_text_layer_of_every_page_is_read_in_order() -> None:
    title, text = extract_pdf(PAPER)
    assert title == "WAL design notes"
    assert text.index("records every change") < text.index("truncates a torn tail")
    assert PdfReader(io.BytesIO(PAPER)).pages  # the fixture is a PDF pypdf itself accepts


def test_a_pdf_in_a_corpus_is_searched_and_its_passages_checked_against_it(
    tmp_path: Path,
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "wal.pdf").write_bytes(PAPER)
    (root / "notes.md").write_text("# Notes\n\nSomething about bread.")
    index = CorpusIndex(tmp_path / "idx.sqlite")
    stats = index.add(root, "papers")
    assert (stats.added, stats.skipped) == (2, ())
    [hit] = index.search("torn tail recovery", k=1)
    assert (Path(hit.location).name, hit.title) == ("wal.pdf", "WAL design notes")
    assert index.still_in_source(hit)
    (root / "wal.pdf").write_bytes(make_pdf([["Nothing about logs any more."]]))
    assert not index.still_in_source(hit)


def _encrypted() -> bytes:
    w = PdfWriter(clone_from=io.BytesIO(PAPER))
    w.encrypt("secret")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("garbage.pdf", b"%PDF-1.4\n\x00\xff not really a pdf", "not a readable PDF"),
        ("truncated.pdf", PAPER[: len(PAPER) // 2], "not a readable PDF"),
        ("html.pdf", b"<html><body>hello</body></html>", "not a readable PDF"),
        ("scan.pdf", make_pdf([[]]), "no text layer"),
        ("locked.pdf", _encrypted(), "encrypted"),
    ],
)
def test_an_unreadable_pdf_is_skipped_with_its_reason_and_the_rest_indexed(
    tmp_path: Path, name: str, data: bytes, why: str
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "good.pdf").write_bytes(PAPER)
    (root / name).write_bytes(data)
    index = CorpusIndex(tmp_path / "idx.sqlite")
    stats = index.add(root, "papers")
    assert stats.added == 1
    [skipped] = stats.skipped
    assert skipped.startswith(str(root / name)) and why in skipped, skipped
    assert index.search("write-ahead log", k=1)


def test_a_pdf_that_became_unreadable_leaves_the_index(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "wal.pdf").write_bytes(PAPER)
    index = CorpusIndex(tmp_path / "idx.sqlite")
    index.add(root, "papers")
    (root / "wal.pdf").write_bytes(b"%PDF-1.4 broken")
    stats = index.add(root, "papers")
    assert (stats.removed, len(stats.skipped)) == (1, 1)
    assert index.search("write-ahead log") == []


def test_without_pypdf_the_message_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pypdf", None)
    with pytest.raises(Unreadable, match=r"sgr-jupyter\[research\]"):
        extract_pdf(PAPER)
