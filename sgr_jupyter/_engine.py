"""Build the real agent kernel from the notebook's frozen config (on the session's loop)."""

from __future__ import annotations

from dataclasses import replace

from sgr_jupyter.config import SgrConfig
from sgr_kernel._defaults import LazyLLM
from sgr_kernel.engine import Kernel, KernelConfig, RunConfig
from sgr_kernel.trace.base import Durability

__all__ = ["make_kernel"]


def make_kernel(cfg: SgrConfig) -> Kernel:
    """A :class:`Kernel` configured from ``cfg`` (provider settings resolved lazily)."""
    run = replace(
        RunConfig(),
        durability=Durability(cfg.durability),
        approval_mode=cfg.approval_mode,
    )
    llm = None
    if cfg.provider or cfg.model or cfg.base_url:
        llm = LazyLLM(provider=cfg.provider, model=cfg.model, base_url=cfg.base_url)
    dispatcher = None
    if cfg.dask_address:
        from sgr_kernel.dispatch.dask import DaskDispatcher

        dispatcher = DaskDispatcher(address=cfg.dask_address)
    return Kernel(KernelConfig(home=cfg.home, run=run), llm=llm, dispatcher=dispatcher)
