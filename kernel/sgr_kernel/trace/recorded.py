"""An index over a recorded run: what each step attempt asked the outside world, and got.

Strict replay serves answers from here and compares every request against it; the order of
step launches becomes replay's schedule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.base import Record, RecordType
from sgr_kernel.trace.state import PLAN_STEP, RecordedCall, RunState

__all__ = ["RecordedAttempt", "RecordedCall", "RecordedRun"]


@dataclass
class RecordedAttempt:
    """Everything one attempt of one step recorded."""

    step: str
    attempt: int
    elapsed_s: float | None = None
    calls: dict[int, RecordedCall] = field(default_factory=dict)
    outcome: StepStatus | None = None
    output: dict[str, Any] | None = None
    failure: FailureRecord | None = None


@dataclass
class RecordedRun:
    """The index. ``launches`` is the order in which attempts started."""

    state: RunState
    launches: list[tuple[str, int]] = field(default_factory=list)
    attempts: dict[tuple[str, int], RecordedAttempt] = field(default_factory=dict)
    approvals: dict[str, tuple[bool, str | None, str | None]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def final_status(self) -> RunStatus:
        return self.state.status

    def attempt(self, step: str, attempt: int) -> RecordedAttempt:
        key = (step, attempt)
        got = self.attempts.get(key)
        if got is None:
            got = self.attempts[key] = RecordedAttempt(step=step, attempt=attempt)
        return got

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> RecordedRun:
        state = RunState()
        run = cls(state=state)
        for rec in records:
            state.apply(rec)
            d = rec.data
            if rec.step is None:
                continue
            if rec.type is RecordType.STEP:
                status = StepStatus(d["status"])
                att = int(d.get("attempt", 0))
                if status is StepStatus.RUNNING:
                    if rec.step != PLAN_STEP:  # planning is replayed before scheduling
                        run.launches.append((rec.step, att))
                    run.attempt(rec.step, att).elapsed_s = d.get("elapsed_s")
                elif status is StepStatus.COMMITTED:
                    a = run.attempt(rec.step, att)
                    a.outcome, a.output = status, d.get("output")
                elif status in (StepStatus.FAILED, StepStatus.RETRY_WAIT) and att:
                    a = run.attempt(rec.step, att)
                    a.outcome = status
                    if d.get("failure"):
                        a.failure = FailureRecord.model_validate(d["failure"])
                elif status is StepStatus.SKIPPED:
                    run.skipped.append(rec.step)
            elif rec.type in (RecordType.INTENT, RecordType.RESULT, RecordType.VALUE):
                a = run.attempt(rec.step, int(d["attempt"]))
                n = int(d["n"])
                call = a.calls.get(n)
                if call is None:
                    call = a.calls[n] = RecordedCall(n=n, kind=d["kind"], key=d.get("key", ""))
                if rec.type is RecordType.INTENT:
                    call.request = d.get("request")
                elif rec.type is RecordType.RESULT:
                    call.result = d
                else:
                    call.value, call.is_value = d.get("value"), True
            elif rec.type is RecordType.APPROVAL:
                run.approvals[rec.step] = (bool(d["approved"]), d.get("by"), d.get("reason"))
        return run
