"""What a caller holds of a run: its handle while this kernel drives it, its result after."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from sgr_kernel.engine.base import RecordListener
from sgr_kernel.engine.journal import RunJournal
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.base import RecoveryReport
from sgr_kernel.trace.state import PLAN_STEP, RunState

if TYPE_CHECKING:
    from sgr_kernel.engine.lifecycle import LifecycleEngine

__all__ = ["Delivery", "RunHandle", "RunResult", "result_of"]

Delivery = Literal["live", "recorded", "posted"]
"""Where a decision went: to the run live in this kernel; recorded into a stopped run's log
(``resume`` applies it); or posted to the inbox of a run live in another process."""


class RunResult(BaseModel):
    """How a run ended (or stopped: PAUSED runs can be resumed)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    status: RunStatus
    reason: str | None = None
    outputs: dict[str, Any] = {}

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.COMPLETED

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The outputs of a long run, shown whole, are a wall of text (and ``asyncio.run``
        # on Python 3.11 builds the repr of the task's result twice while it restores its
        # SIGINT handler: ~0.5 ms each for 1,000 steps). Past a few, the step ids and a count.
        for name, value in super().__repr_args__():
            long = name == "outputs" and len(value) > _SHOWN_OUTPUTS
            yield name, _Elided(value) if long else value


_SHOWN_OUTPUTS = 5


class _Elided:
    """Shows a long mapping as its first keys and how many there are."""

    __slots__ = ("_text",)

    def __init__(self, outputs: Mapping[str, Any]) -> None:
        first = ", ".join(f"{k!r}: ..." for k in itertools.islice(outputs, 3))
        self._text = f"{{{first}, ... ({len(outputs)} steps)}}"

    def __repr__(self) -> str:
        return self._text


class RunHandle:
    """A run being driven by this kernel."""

    def __init__(self, run_id: str, journal: RunJournal, recovery: RecoveryReport | None) -> None:
        self.run_id = run_id
        self.journal = journal
        self.recovery = recovery
        self.engine: LifecycleEngine | None = None
        self.task: asyncio.Task[RunResult] | None = None
        self.interrupted: str | None = None
        """Why the run was stopped with its process (it ends INTERRUPTED, resumable)."""

    @property
    def state(self) -> RunState:
        return self.journal.state

    def subscribe(self, listener: RecordListener) -> Callable[[], None]:
        return self.journal.subscribe(listener)

    async def wait(self) -> RunResult:
        assert self.task is not None
        return await asyncio.shield(self.task)

    def done(self) -> bool:
        return self.task is not None and self.task.done()


def result_of(state: RunState) -> RunResult:
    """The result a run's state amounts to (outputs of its committed steps)."""
    outputs = {
        k: v.output
        for k, v in state.steps.items()
        if v.status is StepStatus.COMMITTED and k != PLAN_STEP
    }
    return RunResult(run_id=state.run_id, status=state.status, reason=state.reason, outputs=outputs)
