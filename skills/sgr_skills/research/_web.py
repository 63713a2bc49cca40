"""The web backend: a search endpoint the user configures, and a careful HTTP fetcher.

The fetcher honours ``robots.txt`` (per host, cached), waits ``min_interval_s`` between two
requests to one host, stops a body past ``max_bytes`` or a page past ``page_timeout_s``
(streamed, so a slow drip or a huge page costs at most the cap), follows at most
``max_redirects`` redirects and refuses a loop, fetches each URL once and keeps each body
once (by hash), and stops everything at the research's own ``deadline``. Pages are text
extracted from HTML; what they say is data, never an instruction.

The search endpoint is a URL with ``{q}`` for the query (``https://search.example/api?q={q}``)
answering JSON: ``{"results": [{"url": …, "title": …}, …]}`` or a plain list of URLs.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sgr_skills.research._extract import chunk, extract_html
from sgr_skills.research.base import Passage

__all__ = ["FetchLimits", "FetchReport", "WebFetcher"]

_AGENT = "sgr-research/1"


@dataclass(frozen=True)
class FetchLimits:
    """Caps of one research's web use."""

    max_bytes: int = 2_000_000
    page_timeout_s: float = 5.0
    max_redirects: int = 5
    min_interval_s: float = 0.2
    max_pages: int = 20
    budget_s: float = 30.0


@dataclass
class FetchReport:
    """What the fetcher did, page by page (kept in the step's output)."""

    fetched: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def refuse(self, url: str, why: str) -> None:
        self.refused[url] = why


class _Refused(Exception):
    pass


class WebFetcher:
    """Fetches pages within :class:`FetchLimits`; ``client`` is an ``httpx.Client``."""

    def __init__(
        self,
        limits: FetchLimits,
        *,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self.limits = limits
        self._client = client or httpx.Client(follow_redirects=False, trust_env=False)
        self._clock, self._sleep = clock, sleep
        self._deadline = clock() + limits.budget_s
        self._last: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._seen_urls: set[str] = set()
        self._seen_bodies: set[str] = set()
        self.report = FetchReport()

    def close(self) -> None:
        self._client.close()

    def left_s(self) -> float:
        return self._deadline - self._clock()

    def search(self, endpoint: str, query: str) -> list[tuple[str, str]]:
        """(url, title) results of the configured search endpoint for ``query``."""
        url = endpoint.replace("{q}", urllib.parse.quote_plus(query))
        try:
            body, _ = self._get(url, robots=False)
            data = json.loads(body)
        except (_Refused, ValueError) as e:
            self.report.refuse(url, f"search failed: {e}")
            return []
        items = data.get("results", []) if isinstance(data, dict) else data
        out: list[tuple[str, str]] = []
        for it in items if isinstance(items, list) else []:
            if isinstance(it, str):
                out.append((it, it))
            elif isinstance(it, dict) and isinstance(it.get("url"), str):
                out.append((it["url"], str(it.get("title") or it["url"])))
        return out

    def fetch_passages(self, url: str, query: str) -> list[Passage]:
        """The page at ``url`` as passages; [] when refused (the reason is in ``report``)."""
        norm = urllib.parse.urldefrag(url)[0]
        if norm in self._seen_urls:
            return []
        self._seen_urls.add(norm)
        if len(self.report.fetched) >= self.limits.max_pages:
            self.report.refuse(url, f"page limit {self.limits.max_pages} reached")
            return []
        try:
            body, final = self._get(norm, robots=True)
        except _Refused as e:
            self.report.refuse(url, str(e))
            return []
        digest = hashlib.sha256(body.encode()).hexdigest()
        if digest in self._seen_bodies:
            self.report.refuse(url, "duplicate content")
            return []
        self._seen_bodies.add(digest)
        self.report.fetched.append(final)
        title, text = extract_html(body)
        return [
            Passage(
                title=title or final,
                location=final,
                text=c,
                query=query,
                chunk_id=hashlib.sha256(f"{final}\0{c}".encode()).hexdigest(),
            )
            for c in chunk(text)
        ]

    # ------------------------------------------------------------ internals

    def _allowed(self, url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            rp: urllib.robotparser.RobotFileParser | None = urllib.robotparser.RobotFileParser()
            try:
                text, _ = self._get(origin + "/robots.txt", robots=False, redirects=False)
                assert rp is not None
                rp.parse(text.splitlines())
            except _Refused:
                rp = None  # no robots.txt (or unreadable): everything is allowed
            self._robots[origin] = rp
        rp = self._robots[origin]
        return rp is None or rp.can_fetch(_AGENT, url)

    def _pace(self, host: str) -> None:
        wait = self._last.get(host, float("-inf")) + self.limits.min_interval_s - self._clock()
        if wait > 0:
            if wait > self.left_s():
                raise _Refused("research time budget spent")
            self._sleep(wait)
        self._last[host] = self._clock()

    def _get(self, url: str, *, robots: bool, redirects: bool = True) -> tuple[str, str]:
        import httpx

        visited: list[str] = []
        for _ in range(self.limits.max_redirects + 1):
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ("http", "https"):
                raise _Refused(f"not an http(s) URL: {url}")
            if url in visited:
                raise _Refused(f"redirect loop at {url}")
            visited.append(url)
            if robots and not self._allowed(url):
                raise _Refused("disallowed by robots.txt")
            left = self.left_s()
            if left <= 0:
                raise _Refused("research time budget spent")
            self._pace(parts.netloc)
            cap_s = min(self.limits.page_timeout_s, left)
            start = self._clock()
            try:
                with self._client.stream(
                    "GET", url, headers={"User-Agent": _AGENT}, timeout=cap_s
                ) as resp:
                    if resp.is_redirect and redirects:
                        url = urllib.parse.urljoin(url, resp.headers.get("location", ""))
                        continue
                    if resp.status_code != 200:
                        raise _Refused(f"HTTP {resp.status_code}")
                    buf = bytearray()
                    for piece in resp.iter_bytes():
                        buf += piece
                        if len(buf) > self.limits.max_bytes:
                            raise _Refused(f"larger than {self.limits.max_bytes} bytes")
                        if self._clock() - start > cap_s:
                            raise _Refused(f"slower than {cap_s:.1f} s")
                    enc = resp.encoding or "utf-8"
                    return bytes(buf).decode(enc, errors="replace"), url
            except httpx.HTTPError as e:
                raise _Refused(f"{type(e).__name__}: {e}") from None
        raise _Refused(f"more than {self.limits.max_redirects} redirects")
