"""The scheduler's seams: a launch source decides what launches and judges outcomes; the
scheduler itself neither knows nor asks whether it replays (docs/adr/020)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from skills_for_tests import TEST_SKILLS, plan_of

from sgr_kernel._system import SystemClock, SystemEntropy
from sgr_kernel.engine._attempt import Outcome
from sgr_kernel.engine._launch import LaunchSource, ReadyQueue
from sgr_kernel.engine.base import RunConfig
from sgr_kernel.engine.driver import drive
from sgr_kernel.engine.journal import MemoryWriter, RunJournal
from sgr_kernel.engine.runtime import RunRuntime, Services
from sgr_kernel.errors import ReplayDivergenceError
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.base import RecordType
from sgr_kernel.trace.state import RunState

FAN = plan_of(
    {"id": "src", "skill": "noop"},
    {"id": "a", "skill": "noop", "depends_on": ["src"]},
    {"id": "b", "skill": "noop", "depends_on": ["src"]},
    {"id": "c", "skill": "noop", "depends_on": ["src"]},
    {"id": "join", "skill": "noop", "depends_on": ["a", "b", "c"]},
)


def _run(source: Callable[[Any], LaunchSource] | None) -> tuple[RunJournal, BaseException | None]:
    """Drive FAN on a real journal (in-memory writer) with the given launch source."""
    clock = SystemClock()
    journal = RunJournal(MemoryWriter("r-src"), RunState(), clock)
    cfg = RunConfig(max_concurrency=8)
    journal.append(
        RecordType.RUN_CREATED,
        {"run_id": "r-src", "name": "fan", "plan": FAN.model_dump(mode="json"), "config": {}},
    )
    journal.run_status(RunStatus.PLANNED)
    rt = RunRuntime(journal, cfg, Services(clock=clock, entropy=SystemEntropy()))

    async def go() -> BaseException | None:
        try:
            await drive(rt, TEST_SKILLS, FAN, pause_when_waiting=False, source=source)
        except ReplayDivergenceError as e:
            return e
        return None

    return journal, asyncio.run(go())


def _launches(journal: RunJournal) -> list[str]:
    records = journal.writer.records  # type: ignore[attr-defined]
    return [
        r.step
        for r in records
        if r.type is RecordType.STEP and r.data["status"] == StepStatus.RUNNING.value
    ]


class Reversed(LaunchSource):
    """One at a time, the last ready step in plan order first."""

    def __init__(self) -> None:
        super().__init__(limit=1)

    def next(
        self, ready: ReadyQueue, *, idle: bool, attempt_of: Callable[[str], int]
    ) -> str | None:
        last = max(ready.ids(), key=FAN.step_ids.index)
        ready.remove(last)
        return last


def test_the_live_source_launches_in_plan_order() -> None:
    journal, err = _run(None)
    assert err is None
    assert journal.state.status is RunStatus.COMPLETED
    assert _launches(journal) == ["src", "a", "b", "c", "join"]


def test_a_source_decides_the_launch_order_and_the_concurrency() -> None:
    journal, err = _run(lambda plan: Reversed())
    assert err is None
    assert journal.state.status is RunStatus.COMPLETED
    assert _launches(journal) == ["src", "c", "b", "a", "join"]
    # limit=1: every launch follows the previous step's commit.
    records = journal.writer.records  # type: ignore[attr-defined]
    seq = [(r.step, r.data["status"]) for r in records if r.type is RecordType.STEP]
    for launched, committed in zip(seq[0::2], seq[1::2], strict=True):
        assert launched[0] == committed[0]
        assert (launched[1], committed[1]) == ("RUNNING", "COMMITTED")


class Judging(LaunchSource):
    """Refuses the outcome of step 'b', as strict replay refuses an outcome unlike the log."""

    def judge(self, oc: Outcome) -> ReplayDivergenceError | None:
        if oc.step == "b":
            return ReplayDivergenceError("b", "the recorded output", oc.output)
        return None


def test_an_outcome_the_source_refuses_fails_the_run_and_is_raised() -> None:
    journal, err = _run(lambda plan: Judging(8))
    assert isinstance(err, ReplayDivergenceError)
    assert err.step == "b"
    state = journal.state
    assert state.status is RunStatus.FAILED
    assert state.reason is not None and state.reason.startswith("replay diverged")
    # Never silently complete: nothing after the refusal committed, nothing is left open.
    assert state.steps["join"].status is StepStatus.CANCELLED
    assert all(st.status.terminal for st in state.steps.values())


class Stuck(LaunchSource):
    """Cannot follow the run: the launch it would make is not ready while nothing runs."""

    def next(
        self, ready: ReadyQueue, *, idle: bool, attempt_of: Callable[[str], int]
    ) -> str | None:
        if "src" in ready.ids():
            return ready.pop()
        raise ReplayDivergenceError(
            "join", "launch of 'join'", f"ready steps {sorted(ready.ids())}"
        )


def test_a_source_that_cannot_follow_the_run_stops_it_failed() -> None:
    journal, err = _run(lambda plan: Stuck(8))
    assert isinstance(err, ReplayDivergenceError)
    assert journal.state.status is RunStatus.FAILED
    assert _launches(journal) == ["src"]


def test_the_ready_queue_releases_a_step_once_and_in_plan_order() -> None:
    q = ReadyQueue({"x": 0, "y": 1, "z": 2})
    for sid in ("z", "x", "z", "y", "x"):
        q.push(sid)
    assert len(q) == 3
    assert q.ids() == {"x", "y", "z"}
    q.remove("y")
    assert [q.pop(), q.pop(), q.pop()] == ["x", "z", None]
    assert not q


def test_a_live_attempt_is_never_interrupted() -> None:
    # Only a recording can say an attempt was cut short; live, that is a bug, not a state.
    with pytest.raises(AssertionError, match="cannot be interrupted"):
        LaunchSource(1).interrupted(Outcome("s", 1, interrupted=True))
