"""A corpus index on disk: SQLite FTS5 (standard library), updated incrementally.

One database file holds every corpus (a named folder). ``add`` walks the folder and
re-reads only files whose size or modification time changed, and of those re-indexes only
the ones whose content hash changed; files gone from the folder leave the index. Queries
rank passages with FTS5's BM25 (title weighted above body). SQLite's WAL mode lets several
workers read while one writes.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sgr_skills.research._extract import SUFFIXES, Unreadable, chunk, extract_file, normalise
from sgr_skills.research.base import Passage

__all__ = ["AddStats", "CorpusIndex", "CorpusInfo", "default_index_path"]

MAX_FILE_BYTES = 8 * 1024 * 1024
"""Larger files are skipped; ``AddStats.skipped`` lists each skipped file as ``"PATH: why"``."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS corpora (name TEXT PRIMARY KEY, root TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY, corpus TEXT NOT NULL, path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha TEXT NOT NULL, title TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS docs_corpus ON docs(corpus);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks USING fts5(
    title, text, doc UNINDEXED, tokenize = 'porter unicode61');
"""
_WORD = re.compile(r"\w+", re.UNICODE)
_SKIP_DIRS = frozenset({"_sources", "node_modules", "__pycache__"})
"""Folders never indexed (besides hidden ones): Sphinx's copies of its sources, build junk."""


def default_index_path() -> Path:
    """``$SGR_HOME/corpus/index.sqlite`` (``~/.sgr`` when ``SGR_HOME`` is unset)."""
    home = Path(os.environ.get("SGR_HOME") or Path.home() / ".sgr")
    return home / "corpus" / "index.sqlite"


@dataclass(frozen=True)
class AddStats:
    """What one ``add`` did."""

    corpus: str
    added: int
    updated: int
    unchanged: int
    removed: int
    chunks: int
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class CorpusInfo:
    """One corpus as listed."""

    name: str
    root: str
    documents: int
    chunks: int


class CorpusIndex:
    """The on-disk index at ``path`` (created on first use)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_index_path()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            with con:
                yield con
        finally:
            con.close()

    def add(self, root: Path | str, name: str | None = None) -> AddStats:
        """Index (or re-index incrementally) the folder ``root`` as corpus ``name``.

        Raises:
            NotADirectoryError: ``root`` is not a folder.
            ValueError: ``name`` is already the name of another folder.
        """
        root = Path(root).expanduser().resolve()
        if not root.is_dir():
            raise NotADirectoryError(f"{root} is not a folder; give a folder of documents")
        name = name or root.name
        added = updated = unchanged = n_chunks = 0
        skipped: list[str] = []
        with self._db() as con:
            row = con.execute("SELECT root FROM corpora WHERE name=?", (name,)).fetchone()
            if row and row[0] != str(root):
                raise ValueError(
                    f"corpus {name!r} is already {row[0]}; choose another name with --name"
                )
            con.execute("INSERT OR IGNORE INTO corpora VALUES (?, ?)", (name, str(root)))
            known = {
                p: (i, s, m, h)
                for i, p, s, m, h in con.execute(
                    "SELECT id, path, size, mtime_ns, sha FROM docs WHERE corpus=?", (name,)
                )
            }
            seen: set[str] = set()
            for path in sorted(root.rglob("*")):
                if (
                    path.suffix.lower() not in SUFFIXES
                    or _SKIP_DIRS & set(path.relative_to(root).parts[:-1])
                    or any(p.startswith(".") for p in path.relative_to(root).parts)
                    or not path.is_file()
                    or path.is_symlink()
                ):
                    continue
                st = path.stat()
                key = str(path)
                seen.add(key)
                old = known.get(key)
                if old and old[1] == st.st_size and old[2] == st.st_mtime_ns:
                    unchanged += 1
                    continue
                if st.st_size > MAX_FILE_BYTES:
                    skipped.append(f"{key}: over {MAX_FILE_BYTES >> 20} MB")
                    continue
                data = path.read_bytes()
                sha = hashlib.sha256(data).hexdigest()
                if old and old[3] == sha:
                    con.execute(
                        "UPDATE docs SET size=?, mtime_ns=? WHERE id=?",
                        (st.st_size, st.st_mtime_ns, old[0]),
                    )
                    unchanged += 1
                    continue
                try:
                    title, text = extract_file(path, data)
                except Unreadable as e:
                    skipped.append(f"{key}: {e}")
                    seen.discard(key)  # an older, readable version leaves the index
                    continue
                if old:
                    con.execute("DELETE FROM chunks WHERE doc=?", (old[0],))
                    con.execute("DELETE FROM docs WHERE id=?", (old[0],))
                    updated += 1
                else:
                    added += 1
                cur = con.execute(
                    "INSERT INTO docs (corpus, path, size, mtime_ns, sha, title) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (name, key, st.st_size, st.st_mtime_ns, sha, title),
                )
                pieces = chunk(text)
                con.executemany(
                    "INSERT INTO chunks (title, text, doc) VALUES (?, ?, ?)",
                    [(title, c, cur.lastrowid) for c in pieces],
                )
                n_chunks += len(pieces)
            gone = [v[0] for p, v in known.items() if p not in seen]
            for doc in gone:
                con.execute("DELETE FROM chunks WHERE doc=?", (doc,))
                con.execute("DELETE FROM docs WHERE id=?", (doc,))
        return AddStats(name, added, updated, unchanged, len(gone), n_chunks, tuple(skipped))

    def refresh(self, names: list[str] | None = None) -> list[AddStats]:
        """Bring the named corpora (all when None) up to date with their folders."""
        out = []
        for info in self.corpora():
            if (names is None or info.name in names) and Path(info.root).is_dir():
                out.append(self.add(info.root, info.name))
        return out

    def corpora(self) -> list[CorpusInfo]:
        """Every corpus with its document and passage counts."""
        with self._db() as con:
            rows = con.execute(
                "SELECT c.name, c.root, "
                "(SELECT count(*) FROM docs d WHERE d.corpus=c.name), "
                "(SELECT count(*) FROM chunks k JOIN docs d ON k.doc=d.id WHERE d.corpus=c.name) "
                "FROM corpora c ORDER BY c.name"
            ).fetchall()
        return [CorpusInfo(str(n), str(r), int(d), int(k)) for n, r, d, k in rows]

    def search(self, query: str, k: int = 5, corpora: list[str] | None = None) -> list[Passage]:
        """The ``k`` best passages for ``query`` (any of its words; BM25, title weighted 2×)."""
        words = [w for w in _WORD.findall(query.lower()) if len(w) > 1][:32]
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', "") + '"' for w in dict.fromkeys(words))
        sql = (
            "SELECT k.title, d.path, k.text, bm25(chunks, 2.0, 1.0) AS s FROM chunks k "
            "JOIN docs d ON k.doc = d.id WHERE chunks MATCH ?"
        )
        args: list[object] = [match]
        if corpora:
            sql += f" AND d.corpus IN ({','.join('?' * len(corpora))})"
            args += corpora
        sql += " ORDER BY s LIMIT ?"
        args.append(int(k))
        with self._db() as con:
            rows = con.execute(sql, args).fetchall()
        return [
            Passage(
                title=t,
                location=p,
                text=x,
                score=-float(s),
                query=query,
                chunk_id=hashlib.sha256(f"{p}\0{x}".encode()).hexdigest(),
            )
            for t, p, x, s in rows
        ]

    def still_in_source(self, passage: Passage) -> bool:
        """Whether the passage's text is still in its file as it is now."""
        path = Path(passage.location)
        try:
            _, text = extract_file(path, path.read_bytes())
        except (OSError, Unreadable):
            return False
        return normalise(passage.text) in normalise(text)
