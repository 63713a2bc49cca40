"""The frozen settings of the Jupyter face (traitlets at the edge, a value inside).

``SgrMagics`` traits (``%config SgrMagics.provider = "local"``) and per-cell options are
folded once into a :class:`SgrConfig`; only this value crosses into the session, which turns
it into the kernel's own config. Nothing below the magics reads traitlets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from sgr_kernel.models.policies import BudgetPolicy
from sgr_kernel.trace.base import default_root

__all__ = ["ApprovalMode", "DurabilityName", "SgrConfig", "budget_policy"]

DurabilityName = Literal["sync", "batch", "none"]
"""How hard the trace writer works (``sgr_kernel.trace.base.Durability``)."""
ApprovalMode = Literal["ask", "auto"]
"""``ask`` waits for a human on approval steps; ``auto`` approves them."""

_INT_LIMITS = frozenset({"max_tokens", "max_steps", "max_llm_calls"})


def budget_policy(limits: Mapping[str, float]) -> BudgetPolicy:
    """Budget options (a cell's, the traits') as the kernel's ``BudgetPolicy`` value."""
    return BudgetPolicy(**{k: int(v) if k in _INT_LIMITS else float(v) for k, v in limits.items()})


@dataclass(frozen=True)
class SgrConfig:
    """Everything the session needs to build a kernel and draw its widgets.

    Attributes:
        home: Trace store root (``SGR_HOME``, default ``~/.sgr``).
        provider: LLM provider spec (``local``, ``openai_compat``, ``scripted:PATH``); ``None``
            lets the kernel pick from the environment.
        model: Model name for the provider, if any.
        base_url: Base URL of an OpenAI-compatible endpoint, if any.
        durability: Trace durability (``sync``, ``batch``, ``none``).
        approval_mode: ``ask`` waits for a human on approval steps; ``auto`` approves them.
        budget: Default budget limits (``max_tokens``, ``max_cost_usd``, ``max_wall_s``,
            ``max_steps``, ``max_llm_calls``); a cell's options narrow them.
        throttle_s: Least interval between two widget updates of one run.
        timeline_window: How many step events the widget's timeline keeps.
        dask_address: Scheduler that remote steps go to (``%sgr cluster connect|local``);
            ``None`` leaves the choice to the kernel's own configuration.
    """

    home: Path = field(default_factory=default_root)
    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    durability: DurabilityName = "sync"
    approval_mode: ApprovalMode = "ask"
    budget: tuple[tuple[str, float], ...] = ()
    throttle_s: float = 0.1
    timeline_window: int = 200
    dask_address: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", default_root(self.home))
        object.__setattr__(self, "budget", tuple(sorted(self.budget)))

    @property
    def budget_dict(self) -> dict[str, float]:
        return dict(self.budget)

    def with_overrides(self, **changes: Any) -> SgrConfig:
        """A copy with the non-``None`` ``changes`` applied; ``budget`` merges (stricter wins)."""
        budget = changes.pop("budget", None) or {}
        merged = budget_policy(self.budget_dict).merged(budget_policy(budget))
        limits = {k: v for k, v in merged.model_dump().items() if v is not None}
        kept = {k: v for k, v in changes.items() if v is not None}
        return replace(self, budget=tuple(limits.items()), **kept)

    def kernel_key(self) -> tuple[Any, ...]:
        """What decides whether two runs can share one kernel object."""
        return (
            self.home,
            self.provider,
            self.model,
            self.base_url,
            self.durability,
            self.dask_address,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["home"] = str(self.home)
        data["budget"] = self.budget_dict
        return data
