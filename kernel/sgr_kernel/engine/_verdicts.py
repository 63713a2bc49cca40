"""The scheduler's judgements, as pure functions of the state: what a failed attempt leads to,
how a run that ran out of work ended, and why a run pauses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sgr_kernel.engine._attempt import Outcome
from sgr_kernel.engine.reliability import ReliabilityEngine
from sgr_kernel.errors import BudgetExceeded, StepError
from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.models.plan import StepSpec
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.state import StepState

__all__ = ["Failed", "failed_attempt", "final_status", "paused_reason"]


@dataclass(frozen=True)
class Failed:
    """What a failed attempt leads to."""

    failure: dict[str, Any]
    """The FailureRecord to log, as JSON."""
    delay_s: float | None
    """Retry after this many seconds; None: the step FAILS."""
    abort: BudgetExceeded | None
    """The failure stops the whole run (ABORTED)."""


def failed_attempt(
    reliability: ReliabilityEngine, run_id: str, spec: StepSpec, oc: Outcome, *, idempotent: bool
) -> Failed:
    """Classify ``oc.error``: retried (with its delay) or final, and whether it aborts the run.

    An effect in doubt on a non-idempotent step becomes ``SideEffectInDoubt`` (never retried
    automatically); a budget overflow is never retried and aborts the run.
    """
    err = oc.error
    assert err is not None
    if isinstance(err, StepError):
        err.run_id, err.step_id, err.attempt = run_id, oc.step, oc.attempt
    in_doubt = oc.in_doubt and not idempotent
    if in_doubt:
        err = reliability.in_doubt_error(err)
    budget = err if isinstance(err, BudgetExceeded) else None
    delay = None
    if budget is None:
        delay = reliability.next_delay(spec.retry, err, oc.attempt, in_doubt=in_doubt)
    failure = FailureRecord.from_exception(err, oc.attempt).model_dump()
    return Failed(failure, delay, budget if delay is None else None)


def final_status(
    order: Sequence[str], steps: Mapping[str, StepState]
) -> tuple[RunStatus, str | None]:
    """How a run with nothing left to launch ended. Never silently COMPLETED: a step still
    open is a stall, reported as a failure with its reason."""
    open_steps = [s for s in order if not steps[s].status.terminal]
    if open_steps:
        return RunStatus.FAILED, f"scheduler stalled with steps {open_steps} not finished"
    failed = [s for s in order if steps[s].status is StepStatus.FAILED]
    if failed:
        f = steps[failed[0]].failure
        why = f"{f.type}: {f.message}" if f else "failed"
        return RunStatus.FAILED, f"step {failed[0]!r} failed: {why}"
    return RunStatus.COMPLETED, None


def paused_reason(waiting: Sequence[str], steps: Mapping[str, StepState]) -> str:
    """Why a run pauses with only approvals left (naming the steps in doubt)."""
    doubt = [s for s in waiting if (steps[s].reason or "").startswith("in doubt")]
    reason = f"waiting for approval: {', '.join(waiting)}"
    if doubt:
        reason += f" (in doubt, may have had its side effect: {', '.join(doubt)})"
    return reason
