"""The web backend against a fixture website on loopback: robots.txt, redirects, caps,
dedupe, per-host pacing, and a whole research within its time budget among hostile pages."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from fixture_site import serve

from sgr_skills.research._web import FetchLimits, WebFetcher

LIMITS = FetchLimits(
    max_bytes=200_000, page_timeout_s=1.0, max_redirects=4, min_interval_s=0.05, budget_s=20.0
)


def test_hostile_pages_are_refused_within_the_budget() -> None:
    with serve() as site:
        f = WebFetcher(LIMITS)
        start = time.monotonic()
        results = f.search(site.search_url, "tides moon")
        got = {
            url.rsplit("/", 1)[-1] or url: f.fetch_passages(url, "tides moon") for url, _ in results
        }
        elapsed = time.monotonic() - start
        f.close()
        refused = {u.split(str(site.port), 1)[1]: why for u, why in f.report.refused.items()}
        paths = site.paths()
    assert any("Spring tides" in p.text for p in got["good.html"])
    assert any("IMPORTANT SYSTEM NOTICE" in p.text for p in got["injection.html"])  # data
    assert got["redirect"] and got["redirect"][0].location.endswith("/good2.html")
    assert refused["/slow.html"].startswith(("slower than", "ReadTimeout"))
    assert refused["/huge.html"] == "larger than 200000 bytes"
    assert refused["/loop/a"].startswith("redirect loop")
    assert refused["/private/secret.html"] == "disallowed by robots.txt"
    assert refused["/dup.html"] == "duplicate content"
    assert refused["/gone"] == "HTTP 404"
    assert "/private/secret.html" not in paths  # never even asked
    assert paths.count("/robots.txt") == 1  # cached per host
    budget_ok = elapsed <= LIMITS.budget_s
    hostile = sum(1 for k in refused if k != "/gone")
    print(
        f"FIGURE research hostile_pages={hostile} within_budget={int(budget_ok)} "
        f"fetched={len(f.report.fetched)} refused={len(refused)} elapsed_s={elapsed:.1f} "
        f"budget_s={LIMITS.budget_s:.0f}"
    )
    assert budget_ok and hostile == 5


def test_requests_to_one_host_are_paced() -> None:
    limits = FetchLimits(min_interval_s=0.3, budget_s=20.0)
    with serve() as site:
        f = WebFetcher(limits)
        base = site.search_url.split("/search")[0]
        for page in ("/good.html", "/injection.html", "/good2.html"):
            f.fetch_passages(base + page, "q")
        f.close()
        times = [t for t, _ in site.hits]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 4 and min(gaps) >= 0.3 * 0.95  # robots + 3 pages, one host


def test_a_spent_budget_stops_fetching(tmp_path: Path) -> None:
    with serve() as site:
        f = WebFetcher(FetchLimits(budget_s=1.5, page_timeout_s=5.0))
        base = site.search_url.split("/search")[0]
        assert f.fetch_passages(base + "/slow.html", "q") == []
        assert f.fetch_passages(base + "/good.html", "q") == []
        f.close()
    assert list(f.report.refused.values())[-1] == "research time budget spent"
