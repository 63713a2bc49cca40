"""The defaults a bare ``Kernel()`` is built from. Heavy backends are imported only when used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgr_kernel._system import SystemClock, SystemEntropy
from sgr_kernel.dispatch.base import Dispatcher
from sgr_kernel.llm.base import LLMClient, LLMRequest, LLMResponse, TokenCallback
from sgr_kernel.sandbox.base import Sandbox
from sgr_kernel.skills.base import HttpResponse, Skill
from sgr_kernel.trace.base import TraceStore

__all__ = [
    "LazyLLM",
    "default_dispatcher",
    "default_sandbox",
    "default_skills",
    "file_store",
    "http_transport",
    "system_clock",
    "system_entropy",
]


def default_skills() -> dict[str, type[Skill]]:
    from sgr_kernel.skills.registry import SkillRegistry

    return dict(SkillRegistry.default())


def file_store(home: Path) -> TraceStore:
    from sgr_kernel.trace.wal import FileTraceStore

    return FileTraceStore(home)


def system_clock() -> SystemClock:
    return SystemClock()


def system_entropy() -> SystemEntropy:
    return SystemEntropy()


class LazyLLM:
    """The configured provider, built on the first call (so a plan with no model steps never
    needs one). Settings come from ``sgr_kernel.llm.config`` with its documented precedence;
    ``provider``, ``model`` and ``base_url`` given here win over it (a notebook cell's choice).
    """

    def __init__(
        self,
        *,
        provider: str | None = None,
        model: str | None = None,
        base_url: str | None = None,
    ) -> None:
        from sgr_kernel.llm.config import load_settings

        self._settings = load_settings(provider=provider, model=model, base_url=base_url)
        path = self._settings.scripted_path
        if self._settings.provider == "scripted":
            from sgr_kernel.errors import ConfigError

            if not path or not Path(path).is_file():
                raise ConfigError(
                    f"provider scripted:{path or ''} (SGR_PROVIDER or --provider) names no "
                    "readable file; give scripted:PATH with PATH a JSONL file of replies"
                )
        self.name: str = self._settings.provider
        self._client: LLMClient | None = None

    async def complete(
        self, request: LLMRequest, *, on_token: TokenCallback | None = None
    ) -> LLMResponse:
        if self._client is None:
            from sgr_kernel.llm.config import make_client

            self._client = make_client(self._settings)
        return await self._client.complete(request, on_token=on_token)


def default_sandbox(store: TraceStore) -> Sandbox | None:
    """The Docker sandbox when its SDK is installed; else None (code steps then fail closed)."""
    try:
        from sgr_kernel.sandbox.docker import DockerSandbox
    except ImportError:
        return None
    return DockerSandbox(store=store)


def default_dispatcher() -> Dispatcher:
    """The configured dispatcher (``SGR_DISPATCHER``, ``SGR_DASK_ADDRESS``, ``[tool.sgr]``).

    By default remote jobs go to Dask when it is installed: an embedded ``LocalCluster`` that
    starts on the first remote job (a run without one starts nothing); inline otherwise.
    """
    from sgr_kernel.dispatch.config import load_dispatch_settings

    settings = load_dispatch_settings()
    if settings.uses_dask:
        from sgr_kernel.dispatch.dask import DaskDispatcher

        return DaskDispatcher(settings=settings)
    from sgr_kernel.dispatch.inline import InlineDispatcher

    return InlineDispatcher()


def http_transport() -> Any:
    async def fetch(
        method: str, url: str, headers: dict[str, str], body: str | None, timeout_s: float
    ) -> HttpResponse:
        import httpx

        from sgr_kernel.errors import SkillFailed, StepTimeout

        try:
            async with httpx.AsyncClient(timeout=timeout_s) as client:
                r = await client.request(method, url, headers=headers, content=body)
        except httpx.TimeoutException as e:
            raise StepTimeout(f"{method} {url}: no answer within {timeout_s:g}s") from e
        except httpx.HTTPError as e:
            raise SkillFailed(f"{method} {url}: {type(e).__name__}: {e}") from e
        return HttpResponse(status=r.status_code, headers=dict(r.headers), body=r.text)

    return fetch
