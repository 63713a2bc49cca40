"""Replay's oracle: the recorded launch order is the schedule, recorded outcomes the answers."""

from __future__ import annotations

from collections.abc import Callable, Collection

from sgr_kernel.engine._attempt import Outcome
from sgr_kernel.errors import ReplayDivergenceError
from sgr_kernel.models.status import StepStatus
from sgr_kernel.trace.recorded import RecordedRun

__all__ = ["ReplayOracle"]

S = StepStatus


class ReplayOracle:
    """Says which step replay launches next and whether an attempt ended as recorded."""

    def __init__(self, recorded: RecordedRun) -> None:
        self.recorded = recorded
        self._cursor = 0

    @property
    def exhausted(self) -> bool:
        return self._cursor >= len(self.recorded.launches)

    def next_launch(
        self, ready: Collection[str], *, idle: bool, attempt_of: Callable[[str], int]
    ) -> str | None:
        """The next recorded launch if it is ready now; None to wait. Raises on divergence:
        when the engine is idle yet the recorded step is not ready, or its attempt differs."""
        sid, attempt = self.recorded.launches[self._cursor]
        if sid not in ready:
            if idle:
                raise ReplayDivergenceError(
                    sid,
                    f"launch of {sid!r} attempt {attempt}",
                    f"ready steps {sorted(ready)}",
                    "the engine would not start the step the recording started next",
                )
            return None
        if attempt_of(sid) + 1 != attempt:
            raise ReplayDivergenceError(sid, f"attempt {attempt}", f"attempt {attempt_of(sid) + 1}")
        self._cursor += 1
        return sid

    def elapsed_s(self, sid: str, attempt: int) -> float:
        got = self.recorded.attempts.get((sid, attempt))
        return got.elapsed_s if got and got.elapsed_s is not None else 0.0

    def check(self, oc: Outcome) -> ReplayDivergenceError | None:
        """A divergence when the attempt did not end as the recording says."""
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
