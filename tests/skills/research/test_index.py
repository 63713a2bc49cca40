"""The corpus index: extraction, incremental updates, ranking, stale passages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sgr_skills.research._extract import chunk, extract_html
from sgr_skills.research._index import CorpusIndex

DOCS = {
    "asyncio.md": "# Asyncio event loop\n\nThe event loop runs coroutines and callbacks. "
    "Use asyncio.run to start the event loop.\n\nTasks wrap coroutines scheduled on the loop.",
    "sqlite.txt": "SQLite notes\n\nFTS5 is a full-text search extension of SQLite. It ranks "
    "matches with the bm25 function.",
    "pandas.html": "<html><head><title>Pandas merge</title><style>p{}</style></head><body>"
    "<nav>menu menu</nav><p>DataFrame.merge joins two frames on key columns.</p>"
    "<script>alert('x')</script></body></html>",
    "notes/cooking.md": "# Bread\n\nKnead the dough, let it rise, bake at 220 degrees.",
    "image.png": "not text",
}


def _folder(root: Path) -> Path:
    for name, text in DOCS.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_html_loses_scripts_styles_and_navigation() -> None:
    title, text = extract_html(DOCS["pandas.html"])
    assert title == "Pandas merge"
    assert "DataFrame.merge joins" in text
    assert "alert" not in text and "menu" not in text and "p{}" not in text


def test_chunks_follow_paragraphs_and_respect_the_limit() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 60 for i in range(10))
    pieces = chunk(text, target=700, limit=1200)
    assert len(pieces) > 3 and all(len(p) <= 1200 for p in pieces)
    assert " ".join(pieces).count("Paragraph") == 10
    wall = "Sentence number one is here. " * 200
    assert all(len(p) <= 1200 for p in chunk(wall))


def test_ranking_puts_the_relevant_document_first(tmp_path: Path) -> None:
    index = CorpusIndex(tmp_path / "idx.sqlite")
    stats = index.add(_folder(tmp_path / "docs"), "mine")
    assert (stats.added, stats.updated, stats.removed) == (4, 0, 0)  # the .png is skipped
    cases = {
        "how does the event loop run coroutines": "asyncio.md",
        "bm25 ranking in full-text search": "sqlite.txt",
        "join two data frames on a key": "pandas.html",
        "bake bread dough": "cooking.md",
    }
    for query, want in cases.items():
        hits = index.search(query, k=3)
        assert hits, query
        assert Path(hits[0].location).name == want, (query, [h.location for h in hits])
        assert hits[0].score >= hits[-1].score
    assert index.search("", k=3) == [] and index.search("zzzqqq", k=3) == []
    # a filter by corpus name
    assert index.search("event loop", corpora=["other"]) == []


def test_add_is_incremental_and_removes_vanished_files(tmp_path: Path) -> None:
    index = CorpusIndex(tmp_path / "idx.sqlite")
    root = _folder(tmp_path / "docs")
    index.add(root, "mine")
    again = index.add(root, "mine")
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 4, 0)
    (root / "sqlite.txt").write_text("SQLite notes\n\nWAL mode lets readers and a writer share.")
    os.utime(root / "asyncio.md", ns=(1, 1))  # touched, same content: not re-indexed
    (root / "notes" / "cooking.md").unlink()
    (root / "new.rst").write_text("Dask\n\nDask schedules task graphs on workers.")
    s = index.add(root, "mine")
    assert (s.added, s.updated, s.removed, s.unchanged) == (1, 1, 1, 2)
    assert index.search("bm25") == []
    assert Path(index.search("readers writer WAL")[0].location).name == "sqlite.txt"
    [info] = index.corpora()
    assert (info.name, info.documents) == ("mine", 4)


def test_a_name_is_one_folder_and_a_file_is_not_a_folder(tmp_path: Path) -> None:
    index = CorpusIndex(tmp_path / "idx.sqlite")
    index.add(_folder(tmp_path / "a"), "docs")
    with pytest.raises(ValueError, match="already"):
        index.add(_folder(tmp_path / "b"), "docs")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        index.add(tmp_path / "a" / "sqlite.txt")


def test_a_passage_changed_on_disk_is_no_longer_in_its_source(tmp_path: Path) -> None:
    index = CorpusIndex(tmp_path / "idx.sqlite")
    root = _folder(tmp_path / "docs")
    index.add(root, "mine")
    [hit] = index.search("full-text search extension", k=1)
    assert index.still_in_source(hit)
    (root / "sqlite.txt").write_text("SQLite notes\n\nnothing about search any more")
    assert not index.still_in_source(hit)
