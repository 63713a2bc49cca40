"""Strict replay of one recorded run: the engine re-runs against the recording, zero live calls.

Every model, sandbox, HTTP and remote answer is served from the trace, every request and step
outcome is compared, and the recorded launch order is the schedule
(:class:`~sgr_kernel.engine._recorded.RecordedLaunches`, the scheduler's launch source). The
services a replay is given refuse and count any live use, so ``live_calls`` is measured, not
assumed. The public API in three sizes is ``sgr_kernel.replay.ReplayEngine``; this module is
the engine's side of it, so :meth:`Kernel.replay` needs nothing above the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.engine._recorded import RecordedLaunches
from sgr_kernel.engine.base import Mode, RunConfig
from sgr_kernel.engine.driver import drive
from sgr_kernel.engine.journal import MemoryWriter, RunJournal
from sgr_kernel.engine.runtime import RunRuntime, Services
from sgr_kernel.errors import ReplayDivergenceError, SgrUsageError
from sgr_kernel.llm.base import LLMRequest, LLMResponse, TokenCallback
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.skills.base import HttpResponse, Skill
from sgr_kernel.trace.base import Durability, Record, RecordType
from sgr_kernel.trace.recorded import RecordedRun
from sgr_kernel.trace.state import RunState

__all__ = ["Divergence", "ReplayReport", "replay_records"]


class Divergence(BaseModel):
    """Where the code under replay parted from the recording."""

    model_config = ConfigDict(frozen=True)

    step: str | None
    expected: Any
    actual: Any
    message: str


class ReplayReport(BaseModel):
    """The outcome of replaying one run."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    recorded_status: RunStatus
    replayed_status: RunStatus
    divergences: list[Divergence] = Field(default_factory=list)
    live_calls: int = 0
    steps_replayed: int = 0
    records: int = 0

    @property
    def ok(self) -> bool:
        return not self.divergences and self.live_calls == 0

    def raise_first(self) -> ReplayReport:
        """Strict replay: raise the first divergence as ReplayDivergenceError; else self."""
        if self.divergences:
            d = self.divergences[0]
            raise ReplayDivergenceError(d.step, d.expected, d.actual, d.message)
        return self


class _Refusing:
    """Stands in for every live service during replay: any use is counted and refused."""

    name = "replay"

    def __init__(self) -> None:
        self.calls = 0

    def _refuse(self, what: str) -> ReplayDivergenceError:
        self.calls += 1
        return ReplayDivergenceError(None, "an answer from the recording", f"a live {what} call")

    async def complete(
        self, request: LLMRequest, *, on_token: TokenCallback | None = None
    ) -> LLMResponse:
        raise self._refuse("LLM")

    async def start(self, run_id: str, workspace: Path, *, limits: Any = None) -> Any:
        raise self._refuse("sandbox")

    async def submit(self, spec: Any) -> Any:
        raise self._refuse("remote job")

    async def result(self, handle: Any, *, timeout_s: float | None) -> dict[str, Any]:
        raise self._refuse("remote job")

    async def cancel(self, handle: Any) -> None:
        raise self._refuse("remote job")

    async def close(self) -> None:
        return None

    async def http(
        self, method: str, url: str, headers: dict[str, str], body: str | None, t: float
    ) -> HttpResponse:
        raise self._refuse("HTTP")


class _ReplayClock:
    """Time stands still at the recorded start; sleeps return at once."""

    def __init__(self, start: float) -> None:
        self._start = start
        self._ticks = 0

    def now(self) -> float:
        return self._start

    def monotonic(self) -> float:
        self._ticks += 1
        return self._ticks * 1e-6

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


class _ReplayEntropy:
    """Jitter only shapes timing, which replay ignores; ids must come from the recording."""

    def random(self) -> float:
        return 0.5

    def new_id(self) -> str:
        raise ReplayDivergenceError(None, "an id from the recording", "a fresh id")


async def replay_records(
    skills: Mapping[str, type[Skill]], records: Sequence[Record]
) -> ReplayReport:
    """Replay one run from its records; divergences are reported, not raised."""
    if not records or records[0].type is not RecordType.RUN_CREATED:
        raise SgrUsageError("a trace must start with its run_created record")
    recorded = RecordedRun.from_records(records)
    created = records[0].data
    run_id = str(created["run_id"])
    cfg = RunConfig.from_json(created.get("config", {}))
    cfg = RunConfig.from_json({**cfg.to_json(), "durability": Durability.NONE.value})
    refusing = _Refusing()
    services = Services(
        clock=_ReplayClock(records[0].ts),
        entropy=_ReplayEntropy(),
        llm=refusing,
        sandbox=refusing,
        dispatcher=refusing,
        http=refusing.http,
    )
    journal = RunJournal(MemoryWriter(run_id), RunState(), services.clock)
    rt = RunRuntime(journal, cfg, services, mode=Mode.REPLAY, recorded=recorded)
    divergences: list[Divergence] = []
    try:
        journal.append(RecordType.RUN_CREATED, created)
        for rec in records:  # a fork's inherited steps are part of its starting point
            if rec.type is RecordType.STEP and rec.data.get("inherited") and rec.step:
                journal.step_status(
                    rec.step,
                    StepStatus.COMMITTED,
                    via=(StepStatus.READY, StepStatus.RUNNING),
                    **{k: v for k, v in rec.data.items() if k != "status"},
                )
        # A user's plan is in run_created; a task is planned again, from the recording.
        plan = recorded.state.plan if created.get("plan") is not None else None
        if plan is not None:
            journal.run_status(RunStatus.PLANNED)
        await drive(
            rt,
            skills,
            plan,
            pause_when_waiting=True,
            source=lambda p: RecordedLaunches(recorded, journal, {s.id: s for s in p.steps}),
        )
    except ReplayDivergenceError as e:
        divergences.append(
            Divergence(step=e.step, expected=e.expected, actual=e.actual, message=str(e))
        )
    if not divergences:
        divergences.extend(_compare(recorded, journal.state))
    return ReplayReport(
        run_id=run_id,
        recorded_status=recorded.final_status,
        replayed_status=journal.state.status,
        divergences=divergences if divergences else [],
        live_calls=refusing.calls + rt.live_calls,
        steps_replayed=journal.state.usage.steps_launched,
        records=len(records),
    )


def _compare(recorded: RecordedRun, replayed: RunState) -> list[Divergence]:
    """Final states must agree wherever the recording reached an end."""
    out: list[Divergence] = []
    want = recorded.final_status
    got = replayed.status
    if want.terminal and got != want:
        out.append(Divergence(step=None, expected=want, actual=got, message="final status differs"))
    for sid, st in recorded.state.steps.items():
        mine = replayed.steps.get(sid)
        if st.status.terminal and (mine is None or mine.status != st.status):
            out.append(
                Divergence(
                    step=sid,
                    expected=st.status,
                    actual=mine.status if mine else None,
                    message=f"step {sid!r} ended differently",
                )
            )
    return out[:1] if out else out
