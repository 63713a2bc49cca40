"""Build the real agent kernel from the frozen config, and adapt it to the session's needs.

The adapter adds nothing of substance: ``runs`` summarises the kernel's state folds,
``replay`` calls the kernel's ReplayEngine. Everything runs on the session's loop thread.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from sgr_jupyter.config import SgrConfig
from sgr_kernel.engine import Kernel, KernelConfig, RunConfig
from sgr_kernel.errors import ConfigError
from sgr_kernel.trace.base import Durability
from sgr_kernel.trace.state import RunState

__all__ = ["KernelAdapter", "make_kernel"]


def make_kernel(cfg: SgrConfig) -> KernelAdapter:
    """A :class:`Kernel` configured from ``cfg`` (provider settings resolved lazily)."""
    run = replace(
        RunConfig(),
        durability=Durability(cfg.durability),
        approval_mode=cfg.approval_mode,
    )
    llm = None
    if cfg.provider or cfg.model or cfg.base_url:
        llm = _LazyClient(cfg)
    dispatcher = None
    if cfg.dask_address:
        from sgr_kernel.dispatch.dask import DaskDispatcher

        dispatcher = DaskDispatcher(address=cfg.dask_address)
    return KernelAdapter(
        Kernel(KernelConfig(home=cfg.home, run=run), llm=llm, dispatcher=dispatcher)
    )


class _LazyClient:
    """The cell's provider choice, built on the first model call (like the kernel's own)."""

    def __init__(self, cfg: SgrConfig) -> None:
        from sgr_kernel.llm.config import load_settings

        self._settings = load_settings(
            provider=cfg.provider, model=cfg.model, base_url=cfg.base_url
        )
        path = self._settings.scripted_path
        if self._settings.provider == "scripted" and not (path and Path(path).is_file()):
            raise ConfigError(
                f"provider scripted:{path or ''} names no readable file; "
                "give scripted:PATH with PATH a JSONL file of replies"
            )
        self.name = self._settings.provider
        self._client: Any = None

    async def complete(self, request: Any, *, on_token: Any = None) -> Any:
        if self._client is None:
            from sgr_kernel.llm.config import make_client

            self._client = make_client(self._settings)
        return await self._client.complete(request, on_token=on_token)


class KernelAdapter:
    """The session's view of a :class:`Kernel`."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.store = kernel.store

    async def start(self, **kwargs: Any) -> Any:
        return await self.kernel.start(**kwargs)

    async def resume(self, run_id: str) -> Any:
        return await self.kernel.resume(run_id)

    async def fork(self, run_id: str, **kwargs: Any) -> Any:
        return await self.kernel.fork(run_id, **kwargs)

    async def cancel(self, run_id: str) -> Any:
        return await self.kernel.cancel(run_id)

    def approve(self, run_id: str, step_id: str, by: str = "user") -> None:
        self.kernel.approve(run_id, step_id, by=by)

    def deny(self, run_id: str, step_id: str, reason: str = "") -> None:
        self.kernel.deny(run_id, step_id, reason=reason or None)

    def show(self, run_id: str) -> Any:
        return self.kernel.show(run_id)

    def interrupt(self, run_id: str | None = None, reason: str = "interrupted") -> list[str]:
        return self.kernel.interrupt(run_id, reason=reason)

    def handle(self, run_id: str) -> Any:
        return self.kernel.handle(run_id)

    def runs(self) -> list[dict[str, Any]]:
        return [_summary(st) for st in self.kernel.runs()]

    async def replay(self, run_id: str) -> Any:
        from sgr_kernel.replay.engine import ReplayEngine

        self.kernel.load(run_id)  # RunNotFoundError for an unknown id
        engine = ReplayEngine(self.kernel.skills, self.kernel.store)
        return await engine.replay_run(run_id, strict=False)  # a divergence is reported


def _summary(st: RunState) -> dict[str, Any]:
    committed = sum(1 for s in st.steps.values() if s.status.value == "COMMITTED")
    return {
        "run_id": st.run_id,
        "name": st.name,
        "status": st.status.value,
        "steps_committed": committed,
        "steps_total": len(st.steps),
    }
