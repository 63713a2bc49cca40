"""Engine contracts: the clock and entropy it is given, and the per-run configuration value.

Nothing in ``engine/``, ``graph/`` or ``replay/`` reads the wall clock, draws random numbers or
makes ids on its own (ruff's banned-api rule enforces it); they come through these protocols,
so that tests can inject fakes and replay can serve recorded values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from sgr_kernel.errors import ConfigError
from sgr_kernel.models.plan import MAX_TIMEOUT_S
from sgr_kernel.models.policies import BudgetPolicy
from sgr_kernel.skills.base import DEFAULT_GRANTS, KNOWN_CAPABILITIES
from sgr_kernel.trace.base import Durability, Record

__all__ = ["Clock", "Entropy", "Mode", "RecordListener", "RunConfig"]

RecordListener = Callable[[Record], None]
"""Receives every record appended to a run, on the run's event-loop thread."""


class Clock(Protocol):
    """Time, injected."""

    def now(self) -> float:
        """Wall time, seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """A monotonic reading for deadlines and durations."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait; a replay clock returns at once."""
        ...


class Entropy(Protocol):
    """Randomness and ids, injected."""

    def random(self) -> float: ...

    def new_id(self) -> str: ...


class Mode(StrEnum):
    """How a run's engine treats the outside world."""

    LIVE = "live"
    REPLAY = "replay"


@dataclass(frozen=True)
class RunConfig:
    """Settings of one run, written into its ``run_created`` record."""

    durability: Durability = Durability.SYNC
    max_concurrency: int = 8
    approval_mode: Literal["ask", "auto"] = "ask"
    grants: frozenset[str] = DEFAULT_GRANTS
    budget: BudgetPolicy = field(default_factory=BudgetPolicy)
    snapshot_every: int = 1000
    default_timeout_s: float | None = None
    max_replans: int = 2
    max_repairs: int = 2

    def __post_init__(self) -> None:
        # Checked here, before a run is created with it: a zero concurrency would wait for
        # ever (and be saved with the run), an infinite deadline breaks the first record.
        problems = [
            f"{name} must be a whole number from {lo} to {hi}, got {value!r}"
            for name, value, lo, hi in (
                ("max_concurrency", self.max_concurrency, 1, 1024),
                ("snapshot_every", self.snapshot_every, 1, 10**6),
                ("max_replans", self.max_replans, 0, 100),
                ("max_repairs", self.max_repairs, 0, 100),
            )
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi
        ]
        t = self.default_timeout_s
        if t is not None and (
            isinstance(t, bool)
            or not isinstance(t, int | float)
            or not math.isfinite(t)
            or not 0 < t <= MAX_TIMEOUT_S
        ):
            problems.append(f"default_timeout_s must be > 0 and <= {MAX_TIMEOUT_S:g}, got {t!r}")
        if self.approval_mode not in ("ask", "auto"):
            problems.append(f"approval_mode must be 'ask' or 'auto', got {self.approval_mode!r}")
        unknown = sorted(set(self.grants) - KNOWN_CAPABILITIES)
        if unknown:
            known = ", ".join(sorted(KNOWN_CAPABILITIES))
            problems.append(f"unknown capability {', '.join(unknown)} in grants (known: {known})")
        if problems:
            raise ConfigError("invalid run settings: " + "; ".join(problems))

    def to_json(self) -> dict[str, Any]:
        return {
            "durability": self.durability.value,
            "max_concurrency": self.max_concurrency,
            "approval_mode": self.approval_mode,
            "grants": sorted(self.grants),
            "budget": self.budget.model_dump(),
            "snapshot_every": self.snapshot_every,
            "default_timeout_s": self.default_timeout_s,
            "max_replans": self.max_replans,
            "max_repairs": self.max_repairs,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        """The settings saved with a run; a malformed saved value is a :class:`ConfigError`."""
        try:
            return cls._from_json(data)
        except (TypeError, ValueError, ValidationError) as e:
            raise ConfigError(f"the run's saved settings are malformed: {e}") from None

    @classmethod
    def _from_json(cls, data: dict[str, Any]) -> RunConfig:
        return cls(
            durability=Durability(data.get("durability", "sync")),
            max_concurrency=int(data.get("max_concurrency", 8)),
            approval_mode=data.get("approval_mode", "ask"),
            grants=frozenset(data.get("grants", DEFAULT_GRANTS)),
            budget=BudgetPolicy.model_validate(data.get("budget", {})),
            snapshot_every=int(data.get("snapshot_every", 1000)),
            default_timeout_s=data.get("default_timeout_s"),
            max_replans=int(data.get("max_replans", 2)),
            max_repairs=int(data.get("max_repairs", 2)),
        )
