"""The approval gate: steps waiting for a human, and applying the decisions they get."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sgr_kernel.engine._launch import LaunchSource
from sgr_kernel.engine._steering import Steering
from sgr_kernel.engine.journal import RunJournal
from sgr_kernel.errors import ApprovalDenied, ApprovalError
from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.models.status import StepStatus
from sgr_kernel.trace.base import RecordType

__all__ = ["ApprovalGate"]

S = StepStatus


class ApprovalGate:
    """Which steps wait for approval, and the log records that move them on."""

    def __init__(
        self,
        journal: RunJournal,
        steering: Steering,
        source: LaunchSource,
        pos: Mapping[str, int],
        *,
        auto: bool,
    ) -> None:
        self._journal = journal
        self._steering = steering
        self._source = source
        self._pos = pos
        self._auto = auto
        self.waiting: set[str] = set()

    def sorted_waiting(self) -> list[str]:
        return sorted(self.waiting, key=self._pos.__getitem__)

    def check(self, run_id: str, step_id: str) -> None:
        """Raise ApprovalError unless ``step_id`` waits for a decision it has not had yet."""
        st = self._journal.state.steps.get(step_id)
        if st is None:
            raise ApprovalError(f"run {run_id!r} has no step {step_id!r}")
        if step_id in self._steering.decisions:
            raise ApprovalError(
                f"step {step_id!r} is already decided; the decision is being applied"
            )
        if step_id not in self.waiting:
            raise ApprovalError(
                f"step {step_id!r} is not waiting for approval (it is {st.status.value})"
            )

    def admit(self, sid: str) -> bool:
        """A ready step that requires approval: True when it may launch now; else it waits."""
        decided = self._source.gate(sid)
        if decided is not None:
            return decided
        if self._auto:
            self._journal.append(
                RecordType.APPROVAL,
                {"approved": True, "by": "auto", "reason": "approval_mode=auto"},
                step=sid,
                durable=True,
            )
            return True
        self.wait_for(sid, "requires approval", durable=True)
        return False

    def wait_for(self, sid: str, reason: str, *, durable: bool) -> None:
        st = self._journal.state.steps[sid]
        self._journal.step_status(
            sid,
            S.WAITING_APPROVAL,
            via=(S.READY,) if st.status is S.PENDING else (),
            attempt=st.attempt,
            durable=durable,
            reason=reason,
        )
        self.waiting.add(sid)

    def apply(self, ready: Callable[[str], None], denied: Callable[[str], None]) -> None:
        """Log every queued decision; an approved step is READY (``ready`` queues it), a denied
        one FAILS (``denied`` skips what depended on it)."""
        journal = self._journal
        decisions = self._steering.decisions
        for sid, (approved, by, reason) in sorted(decisions.items()):
            st = journal.state.steps[sid]
            if st.approval is None:
                journal.append(
                    RecordType.APPROVAL,
                    {"approved": approved, "by": by, "reason": reason},
                    step=sid,
                    durable=True,
                )
            self.waiting.discard(sid)
            if approved:
                journal.step_status(sid, S.READY, attempt=st.attempt)
                ready(sid)
            else:
                err = ApprovalDenied(f"denied by {by}" + (f": {reason}" if reason else ""))
                failure = FailureRecord.from_exception(err, max(st.attempt, 1))
                journal.step_status(
                    sid, S.FAILED, attempt=st.attempt, failure=failure.model_dump(), durable=True
                )
                denied(sid)
            self._steering.applied(sid)  # only now that the decision is in the log
        decisions.clear()
