"""Reliability policies as frozen values. The ReliabilityEngine applies them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["NEVER_RETRIED", "BudgetPolicy", "RetryPolicy"]

NEVER_RETRIED = frozenset(
    {"ApprovalDenied", "CapabilityDenied", "BudgetExceeded", "SideEffectInDoubt", "ResumeMismatch"}
)
"""Error types no plan can ask to retry: a human or policy said no, a budget ran out, a
side effect may have happened, or a resumed step disagrees with its log."""
_TYPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


class RetryPolicy(BaseModel):
    """How often and how patiently a step is retried after a retryable failure."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    max_attempts: int = Field(1, ge=1, le=100, description="Attempts in all, the first included.")
    backoff_s: float = Field(0.5, ge=0, le=3600, description="Delay before the second attempt.")
    max_backoff_s: float = Field(30.0, ge=0, le=86400, description="Cap on any one delay.")
    multiplier: float = Field(2.0, ge=1, le=100, description="Growth of the delay per attempt.")
    jitter: float = Field(0.2, ge=0, le=1, description="Fraction of the delay drawn at random.")
    retry_on: tuple[str, ...] = Field(
        (),
        max_length=32,
        description="Error type names retried even though their type is not retryable (e.g. "
        "SandboxExecutionError for code that fails now and then); a name matches the error's "
        "class or any of its bases.",
    )
    no_retry_on: tuple[str, ...] = Field(
        (),
        max_length=32,
        description="Error type names never retried, even though their type is retryable.",
    )

    @field_validator("retry_on", "no_retry_on")
    @classmethod
    def _names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            if not _TYPE_NAME.match(name):
                raise ValueError(f"{name[:60]!r} is not an error type name (e.g. SkillFailed)")
        forced = sorted(set(names) & NEVER_RETRIED)
        if forced:
            raise ValueError(
                f"{', '.join(forced)} can never be retried (a denial, a budget stop, an effect "
                "in doubt or a log mismatch); remove it from retry_on"
            )
        return names

    def allows(self, type_names: Sequence[str], retryable: bool) -> bool:
        """Whether an error may be retried: its type's own answer, overridden by the lists.

        ``type_names``: the error's class name, then its bases' names (any order).
        """
        names = set(type_names)
        if names & NEVER_RETRIED or names & set(self.no_retry_on):
            return False
        return retryable or bool(names & set(self.retry_on))

    def delay(self, attempt: int, unit_random: float) -> float:
        """Delay after failed ``attempt`` (1-based); ``unit_random`` in [0, 1) from the context."""
        base = min(self.max_backoff_s, self.backoff_s * self.multiplier ** (attempt - 1))
        return base * (1 - self.jitter + 2 * self.jitter * unit_random) if base else 0.0


class BudgetPolicy(BaseModel):
    """Limits for one run (``None``: unlimited), checked before every LLM call and step launch."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    max_steps: int | None = Field(
        None, ge=0, le=10**9, description="Step launches, retries included."
    )
    max_tokens: int | None = Field(
        None, ge=0, le=10**12, description="Prompt plus completion tokens."
    )
    max_cost_usd: float | None = Field(
        None, ge=0, le=10**6, description="Model spend in US dollars."
    )
    max_wall_s: float | None = Field(
        None, gt=0, le=30 * 86400, description="Wall time since the run started."
    )
    max_llm_calls: int | None = Field(
        None, ge=0, le=10**9, description="Model calls, repairs included."
    )

    def merged(self, other: BudgetPolicy) -> BudgetPolicy:
        """The stricter of two budgets, field by field."""

        def pick(a: float | None, b: float | None) -> float | None:
            return b if a is None else a if b is None else min(a, b)

        fields = type(self).model_fields
        return BudgetPolicy(**{k: pick(getattr(self, k), getattr(other, k)) for k in fields})
