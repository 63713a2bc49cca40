"""The worker side of deep research: one job retrieves passages for every sub-query.

``sgr.research.retrieve`` brings the named corpora up to date (incrementally), searches them,
keeps only passages still present in their files, and — when a search endpoint is given —
searches the web and fetches the pages within the caps. Everything it returns is recorded
in the run's log, so a replay needs neither the corpus nor the web.
"""

from __future__ import annotations

import re
from typing import Any

from sgr_kernel.dispatch.base import JobCancelled, current_job, job
from sgr_skills.research._index import CorpusIndex
from sgr_skills.research._web import FetchLimits, WebFetcher
from sgr_skills.research.base import Passage

__all__ = ["RETRIEVE_JOB", "retrieve"]

RETRIEVE_JOB = "sgr.research.retrieve"
_WORD = re.compile(r"\w+")


def _best(passages: list[Passage], query: str, k: int) -> list[Passage]:
    """The ``k`` passages of a page sharing most words with the query, scored by that."""
    words = {w for w in _WORD.findall(query.lower()) if len(w) > 2}
    scored = [
        p.model_copy(update={"score": float(len(words & set(_WORD.findall(p.text.lower()))))})
        for p in passages
    ]
    return sorted(scored, key=lambda p: -p.score)[:k]


@job(RETRIEVE_JOB)
def retrieve(
    queries: list[str],
    *,
    k: int = 4,
    corpora: list[str] | None = None,
    index_path: str | None = None,
    search_url: str | None = None,
    web_pages_per_query: int = 3,
    limits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Passages for each query from the corpora (and the web when ``search_url`` is set)."""
    ctx = current_job()
    index = CorpusIndex(index_path)
    ctx.progress(0.0, "updating the corpus index")
    known = {c.name for c in index.corpora()}
    unknown = sorted(set(corpora or ()) - known)
    if unknown:  # the skill refuses the step (not retried) naming them
        return {"unknown_corpora": unknown, "known_corpora": sorted(known)}
    refreshed = index.refresh(corpora) if corpora is None or corpora else []
    found: dict[str, Passage] = {}
    stale = 0
    steps = len(queries) * (2 if search_url else 1)
    done = 0
    for q in queries:
        if ctx.cancelled():
            raise JobCancelled(ctx.key)
        if corpora is None or corpora:
            for p in index.search(q, k, corpora):
                if not index.still_in_source(p):
                    stale += 1
                    continue
                if p.chunk_id not in found or found[p.chunk_id].score < p.score:
                    found[p.chunk_id] = p
        done += 1
        ctx.progress(done / steps, f"searched the corpus for {q[:60]!r}", passages=len(found))
    web: dict[str, Any] = {}
    if search_url:
        fetcher = WebFetcher(FetchLimits(**(limits or {})))
        try:
            for q in queries:
                if ctx.cancelled():
                    raise JobCancelled(ctx.key)
                for url, _title in fetcher.search(search_url, q)[:web_pages_per_query]:
                    if fetcher.left_s() <= 0 or ctx.cancelled():
                        break
                    for p in _best(fetcher.fetch_passages(url, q), q, k):
                        found.setdefault(p.chunk_id, p)
                    # a page may take up to its time cap: report after each one
                    ctx.progress(done / steps, f"read {url[:80]}", passages=len(found))
                done += 1
                ctx.progress(done / steps, f"searched the web for {q[:60]!r}", passages=len(found))
        finally:
            fetcher.close()
        web = {"fetched": fetcher.report.fetched, "refused": fetcher.report.refused}
    ctx.progress(1.0, f"{len(found)} passages", passages=len(found))
    return {
        "passages": [p.model_dump(mode="json") for p in found.values()],
        "stale": stale,
        "indexed": {s.corpus: s.added + s.updated for s in refreshed},
        "web": web,
    }
