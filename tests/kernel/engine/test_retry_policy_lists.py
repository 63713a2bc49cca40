"""``retry.retry_on`` / ``retry.no_retry_on``: a plan can say which errors to retry, and a
failure that was not retried says why, from the log alone."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sgr_kernel._system import SystemClock, SystemEntropy
from sgr_kernel.engine.reliability import ReliabilityEngine, why_not_retried
from sgr_kernel.errors import (
    ApprovalDenied,
    SandboxExecutionError,
    SandboxTimeout,
    SkillFailed,
    StepContractError,
)
from sgr_kernel.models import parse_plan
from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.models.policies import RetryPolicy


def _engine() -> ReliabilityEngine:
    return ReliabilityEngine(SystemClock(), SystemEntropy())


def test_retry_on_retries_an_error_whose_type_says_no() -> None:
    eng = _engine()
    err = SandboxExecutionError("the code raised KeyError")
    assert eng.next_delay(RetryPolicy(max_attempts=3), err, 1, in_doubt=False) is None
    policy = RetryPolicy(max_attempts=3, retry_on=("SandboxExecutionError",))
    assert eng.next_delay(policy, err, 1, in_doubt=False) is not None
    # A base class's name matches too; the attempt limit still holds.
    assert (
        eng.next_delay(
            RetryPolicy(max_attempts=3, retry_on=("SandboxError",)), err, 1, in_doubt=False
        )
        is not None
    )
    assert eng.next_delay(policy, err, 3, in_doubt=False) is None
    # An effect in doubt is never retried, whatever the lists say.
    assert eng.next_delay(policy, err, 1, in_doubt=True) is None


def test_no_retry_on_stops_a_retryable_error() -> None:
    eng = _engine()
    policy = RetryPolicy(max_attempts=3, no_retry_on=("SandboxTimeout",))
    assert eng.next_delay(policy, SandboxTimeout("slow"), 1, in_doubt=False) is None
    assert eng.next_delay(policy, SkillFailed("flaky"), 1, in_doubt=False) is not None


@pytest.mark.parametrize("name", ["ApprovalDenied", "BudgetExceeded", "SideEffectInDoubt"])
def test_a_denial_or_a_doubt_can_never_be_asked_for(name: str) -> None:
    with pytest.raises(ValidationError, match="can never be retried"):
        RetryPolicy(retry_on=(name,))
    assert (
        _engine().next_delay(RetryPolicy(max_attempts=5), ApprovalDenied("no"), 1, in_doubt=False)
        is None
    )


def test_a_bad_name_is_refused_with_an_example() -> None:
    with pytest.raises(ValidationError, match="not an error type name"):
        RetryPolicy(retry_on=("not a name!",))


def test_plans_carry_the_lists() -> None:
    plan = parse_plan(
        "steps:\n  - id: a\n    skill: format\n    inputs: {template: x}\n"
        "    retry: {max_attempts: 2, retry_on: [SandboxExecutionError]}\n"
    )
    assert plan.step("a").retry.retry_on == ("SandboxExecutionError",)


def _failure(exc: Exception, attempt: int = 1) -> FailureRecord:
    return FailureRecord.from_exception(exc, attempt)


def test_why_not_retried_reads_as_advice() -> None:
    code = _failure(SandboxExecutionError("the code raised KeyError\nTraceback ..."))
    why = why_not_retried(None, code)
    assert "deterministic" in why and "retry.retry_on" in why and "SandboxExecutionError" in why
    assert "no_retry_on" in why_not_retried(
        RetryPolicy(no_retry_on=("SkillFailed",)), _failure(SkillFailed("x"))
    )
    assert "all 2 attempts" in why_not_retried(
        RetryPolicy(max_attempts=2), _failure(SkillFailed("x"), attempt=2)
    )
    assert "attempt allowed" in why_not_retried(None, _failure(SkillFailed("x")))
    assert "side effect may already have happened" in why_not_retried(
        None, FailureRecord(type="SideEffectInDoubt", retryable=False, message="m", attempt=1)
    )
    assert "never retried" in why_not_retried(None, _failure(ApprovalDenied("no")))
    assert "deterministic" in why_not_retried(None, _failure(StepContractError("bad input")))
    # Listed in retry_on but out of attempts: the count is the reason.
    listed = RetryPolicy(max_attempts=2, retry_on=("SandboxExecutionError",))
    assert "all 2 attempts" in why_not_retried(listed, _failure(SandboxExecutionError("x"), 2))
