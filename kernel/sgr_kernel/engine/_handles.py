"""What a caller holds of a run: its handle while this kernel drives it, its result after."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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
