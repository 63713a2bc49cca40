"""Strict replay's launch source: the recorded launch order is the schedule, recorded outcomes
the answers, recorded approvals the decisions.

One step at a time, in the order the recording launched them. A launch the engine cannot make
(the recorded step is not ready while nothing else runs), a different attempt number, or an
outcome unlike the recorded one is a :class:`ReplayDivergenceError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sgr_kernel.engine._attempt import Outcome
from sgr_kernel.engine._launch import LaunchSource, ReadyQueue
from sgr_kernel.engine._steering import Decision
from sgr_kernel.engine.journal import RunJournal
from sgr_kernel.errors import ReplayDivergenceError
from sgr_kernel.models.plan import StepSpec
from sgr_kernel.models.status import StepStatus
from sgr_kernel.trace.base import RecordType
from sgr_kernel.trace.recorded import RecordedRun

__all__ = ["RecordedLaunches"]

S = StepStatus


class RecordedLaunches(LaunchSource):
    """Launches what the recording launched, in its order, and checks every outcome."""

    live = False

    def __init__(
        self, recorded: RecordedRun, journal: RunJournal, specs: Mapping[str, StepSpec]
    ) -> None:
        super().__init__(limit=1)
        self.recorded = recorded
        self._journal = journal
        self._specs = specs
        self._cursor = 0

    @property
    def pauses_when_waiting(self) -> bool:
        return True  # a replay never waits for a human: the recording holds every decision

    def next(
        self, ready: ReadyQueue, *, idle: bool, attempt_of: Callable[[str], int]
    ) -> str | None:
        launches = self.recorded.launches
        if self._cursor >= len(launches):
            self.ended = True
            return None
        sid, attempt = launches[self._cursor]
        ids = ready.ids()
        if sid not in ids:
            if idle:
                raise ReplayDivergenceError(
                    sid,
                    f"launch of {sid!r} attempt {attempt}",
                    f"ready steps {sorted(ids)}",
                    "the engine would not start the step the recording started next",
                )
            return None
        if attempt_of(sid) + 1 != attempt:
            raise ReplayDivergenceError(sid, f"attempt {attempt}", f"attempt {attempt_of(sid) + 1}")
        self._cursor += 1
        ready.remove(sid)
        return sid

    def elapsed_s(self, sid: str, attempt: int) -> float:
        got = self.recorded.attempts.get((sid, attempt))
        return got.elapsed_s if got and got.elapsed_s is not None else 0.0

    def denial(self, sid: str) -> Decision | None:
        """A step the recording denied never launched, so the launch order cannot bring it to
        the gate; the recorded denial is applied as soon as it is ready."""
        decision = self.recorded.approvals.get(sid)
        if decision is None or decision[0] or not self._specs[sid].requires_approval:
            return None
        return decision

    def gate(self, sid: str) -> bool:
        decision = self.recorded.approvals.get(sid)
        if decision is not None:  # without one, the launch order says it ran: judge() covers it
            self._journal.append(
                RecordType.APPROVAL,
                {"approved": decision[0], "by": decision[1], "reason": decision[2]},
                step=sid,
            )
        return True

    def judge(self, oc: Outcome) -> ReplayDivergenceError | None:
        if isinstance(oc.error, ReplayDivergenceError):
            return oc.error
        rec = self.recorded.attempts.get((oc.step, oc.attempt))
        if rec is None or rec.outcome is None:
            return ReplayDivergenceError(
                oc.step, "no recorded outcome", "an outcome", f"attempt {oc.attempt}"
            )
        if oc.error is None:
            if rec.outcome is not S.COMMITTED or rec.output != oc.output:
                expected = rec.output if rec.outcome is S.COMMITTED else rec.failure
                return ReplayDivergenceError(oc.step, expected, oc.output)
            return None
        got = type(oc.error).__name__
        want = rec.failure.type if rec.failure else None
        if rec.outcome is S.COMMITTED or (
            want is not None and want not in (got, "SideEffectInDoubt")
        ):
            return ReplayDivergenceError(oc.step, want or rec.output, got)
        return None

    def interrupted(self, oc: Outcome) -> Decision | bool:
        journal = self._journal
        attempt = self.recorded.attempts.get((oc.step, oc.attempt))
        if attempt is None or attempt.outcome is None:
            self.ended = True  # the recording stops inside this attempt
            journal.step_status(oc.step, S.RETRY_WAIT, attempt=oc.attempt, reason="interrupted")
            return False
        journal.step_status(oc.step, S.RETRY_WAIT, attempt=oc.attempt, reason="interrupted; re-run")
        journal.step_status(oc.step, S.READY, attempt=oc.attempt)
        decision = self.recorded.approvals.get(oc.step)
        if decision is not None and not self._specs[oc.step].requires_approval and not decision[0]:
            journal.step_status(oc.step, S.WAITING_APPROVAL, attempt=oc.attempt, reason="in doubt")
            return decision
        return True
