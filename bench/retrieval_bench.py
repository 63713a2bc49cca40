"""Retrieval latency on a 10k-passage corpus: the FTS5 index vs a linear scan, same run.

Builds a synthetic corpus of 10,000 passages (seeded vocabulary, 400 files of 25 paragraphs)
plus, when Debian's python3.11-doc is installed, the real Python documentation; times
``CorpusIndex.search`` (top 5, BM25) against the baseline a user would write first — a
linear scan scoring every passage by query-term counts — on the same queries. Also the
index build time and an incremental re-add with nothing changed. Writes
``bench/results/retrieval.json``.

Run: ``.venv/bin/python bench/retrieval_bench.py`` (about a minute).
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sgr_skills.research._index import CorpusIndex

OUT = Path(__file__).parent / "results" / "retrieval.json"
FILES, PARAS = 400, 25
QUERIES = 50
PY_DOCS = Path("/usr/share/doc/python3.11/html")
_WORD = re.compile(r"\w+")


def corpus(root: Path, rng: random.Random) -> list[str]:
    vocab = [f"w{i}" for i in range(5000)]
    weights = [1.0 / (i + 1) for i in range(len(vocab))]  # Zipf-like
    for f in range(FILES):
        paras = [" ".join(rng.choices(vocab, weights, k=90)) + "." for _ in range(PARAS)]
        (root / f"doc{f:04d}.md").write_text(f"# Doc {f}\n\n" + "\n\n".join(paras))
    return vocab


def scan(passages: list[tuple[str, str]], query: str, k: int = 5) -> list[str]:
    words = set(_WORD.findall(query.lower()))
    scored = []
    for path, text in passages:
        toks = _WORD.findall(text.lower())
        s = sum(1 for t in toks if t in words)
        if s:
            scored.append((s, path))
    scored.sort(reverse=True)
    return [p for _, p in scored[:k]]


def timed(fn, queries: list[str]) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50_ms": statistics.median(ms), "p95_ms": ms[int(0.95 * (len(ms) - 1))]}


def main() -> int:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "docs"
        root.mkdir()
        vocab = corpus(root, rng)
        index = CorpusIndex(Path(tmp) / "idx.sqlite")
        t = time.perf_counter()
        index.add(root, "synthetic")
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        index.add(root, "synthetic")
        readd_s = time.perf_counter() - t
        [info] = index.corpora()
        import sqlite3

        con = sqlite3.connect(index.path)
        passages = con.execute(
            "SELECT d.path, k.text FROM chunks k JOIN docs d ON k.doc=d.id"
        ).fetchall()
        con.close()
        queries = [" ".join(rng.sample(vocab[50:2000], 3)) for _ in range(QUERIES)]
        fts = summary(timed(lambda q: index.search(q, 5), queries))
        lin = summary(timed(lambda q: scan(passages, q), queries))
        result: dict[str, object] = {
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "platform": platform.platform(),
            },
            "load_1min": os.getloadavg()[0],
            "synthetic": {
                "passages": info.chunks,
                "documents": info.documents,
                "build_s": build_s,
                "readd_unchanged_s": readd_s,
                "fts5": fts,
                "linear_scan_baseline": lin,
                "speedup_p50": lin["p50_ms"] / fts["p50_ms"],
            },
        }
        if PY_DOCS.is_dir():
            t = time.perf_counter()
            index.add(PY_DOCS, "python-docs")
            docs_s = time.perf_counter() - t
            pyq = [
                "asyncio gather awaitables",
                "dataclass field default factory",
                "pathlib glob recursive",
                "sqlite3 row factory",
                "json dumps indent",
            ]
            py = summary(timed(lambda q: index.search(q, 5, ["python-docs"]), pyq * 4))
            top = {
                q: [Path(h.location).name for h in index.search(q, 3, ["python-docs"])] for q in pyq
            }
            result["python_docs"] = {"build_s": docs_s, "fts5": py, "top3": top}
    syn = result["synthetic"]
    assert isinstance(syn, dict)
    result["metrics"] = {
        "passages": syn["passages"],
        "fts5_p50_ms": fts["p50_ms"],
        "linear_scan_p50_ms": lin["p50_ms"],
        "speedup_p50": syn["speedup_p50"],
        "build_10k_s": build_s,
        "readd_unchanged_s": readd_s,
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    s = result["metrics"]
    print(json.dumps(s, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
