"""An attempt that ends while no other is in flight takes the scheduler's turn itself (handle
its outcome, commit, launch what became ready) instead of waking the scheduler for it. That
must not change what a run does: the same records, the same group commits, each attempt in
its own copy of the scheduler's context, and an error in that turn raised from the run as an
error in the scheduler's own turn is."""

from __future__ import annotations

import asyncio
import contextvars
import errno
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from skills_for_tests import TEST_SKILLS, EchoLLM, plan_of

from sgr_kernel.engine import Kernel, KernelConfig, RunConfig
from sgr_kernel.errors import TraceWriteError
from sgr_kernel.models.status import RunStatus
from sgr_kernel.skills.base import Skill, SkillContext
from sgr_kernel.testing.simdisk import FaultyFileIO
from sgr_kernel.trace import Durability, FileTraceStore, RecordType
from sgr_kernel.trace._fileio import OsFileIO

TAG: contextvars.ContextVar[str] = contextvars.ContextVar("TAG", default="unset")


class _In(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Seen(BaseModel):
    seen: str


class TagSkill(Skill):
    """Reports the context variable it finds, then sets it to its own step id."""

    name = "tag"
    description = "Reads and sets a context variable."
    Input = _In
    Output = _Seen

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        seen = TAG.get()
        TAG.set(ctx.step_id)
        return _Seen(seen=seen)


def _chain(n: int, skill: str = "noop") -> Any:
    steps = (
        {"id": f"s{i}", "skill": skill, "depends_on": [f"s{i - 1}"] * bool(i)} for i in range(n)
    )
    return plan_of(*steps)


def _fanout(width: int) -> Any:
    mid = [{"id": f"p{i}", "skill": "noop", "depends_on": ["src"]} for i in range(width)]
    return plan_of(
        {"id": "src", "skill": "noop"},
        *mid,
        {"id": "join", "skill": "noop", "depends_on": [m["id"] for m in mid]},
    )


def _kernel(home: Path, durability: Durability, io: FaultyFileIO | None = None) -> Kernel:
    return Kernel(
        KernelConfig(home=home, run=RunConfig(durability=durability, max_concurrency=64)),
        skills={**TEST_SKILLS, "tag": TagSkill},
        store=FileTraceStore(home, fileio=io),
        llm=EchoLLM(),
    )


def test_each_attempt_starts_from_the_schedulers_context(tmp_path: Path) -> None:
    """Step k runs in a task started by the turn step k-1's attempt took: it must still see
    the scheduler's context (the value set before the run), never what step k-1's skill set."""
    k = _kernel(tmp_path, Durability.NONE)

    async def go() -> Any:
        TAG.set("caller")
        return await k.run(plan=_chain(12, "tag"))

    result = asyncio.run(go())
    assert result.ok, result
    state = k.load(result.run_id)
    seen = [state.steps[f"s{i}"].output["seen"] for i in range(12)]  # type: ignore[index]
    assert seen == ["caller"] * 12


@pytest.mark.parametrize("durability", [Durability.SYNC, Durability.NONE])
def test_group_commit_and_record_order_are_kept(tmp_path: Path, durability: Durability) -> None:
    """A fan-out's parallel outcomes still share one commit: fsyncs grow with the turns, not
    with the steps; a chain's log holds each COMMITTED right before its child's RUNNING."""
    io = FaultyFileIO(OsFileIO(), {})
    k = _kernel(tmp_path / "fan", durability, io)
    assert asyncio.run(k.run(plan=_fanout(40), run_id="run")).ok
    fsyncs = io.calls.get("fsync", 0)
    if durability is Durability.SYNC:
        # run_created, PLANNED, RUNNING, src, the 40 (one or a few turns), join, COMPLETED.
        assert 0 < fsyncs <= 12, io.calls
    else:
        assert fsyncs == 0 and io.calls["write"] <= 12, io.calls
    k = _kernel(tmp_path / "chain", durability)
    assert asyncio.run(k.run(plan=_chain(20), run_id="run")).ok
    steps = [
        (r.step, r.data["status"]) for r in k.store.read("run").records if r.type is RecordType.STEP
    ]
    expected = [(f"s{i}", s) for i in range(20) for s in ("RUNNING", "COMMITTED")]
    assert steps == expected


def test_a_write_that_fails_in_such_a_turn_fails_the_run_and_keeps_the_log(
    tmp_path: Path,
) -> None:
    """Fail the run's k-th write, for every k: the run raises the write error (never returns
    COMPLETED over a lost record), and what is on disk is a whole, gap-free prefix."""
    plan = _chain(8)
    probe = FaultyFileIO(OsFileIO(), {})
    assert asyncio.run(_kernel(tmp_path / "probe", Durability.NONE, probe).run(plan=plan)).ok
    writes = probe.calls["write"]
    raised = completed = bad = 0
    for n in range(1, writes + 1):
        home = tmp_path / f"w{n}"
        io = FaultyFileIO(OsFileIO(), {"write": (n, errno.ENOSPC)})
        k = _kernel(home, Durability.NONE, io)
        try:
            status = asyncio.run(k.run(plan=plan, run_id="run")).status
        except TraceWriteError:
            raised += 1
            status = None
        runs = home / "runs" / "run"
        log = FileTraceStore(home).read("run") if (runs / "wal.jsonl").exists() else None
        if log is None or not log.records:
            continue  # the header or run_created was the failed write: the run never began
        on_disk = k.load("run").status
        bad += [r.seq for r in log.records] != list(range(len(log.records)))
        bad += log.report.torn_tail
        if status is RunStatus.COMPLETED:
            completed += 1
        bad += (on_disk is RunStatus.COMPLETED) != (status is RunStatus.COMPLETED)
    print(
        f"FIGURE attempt_turn_write_faults writes={writes} raised={raised} "
        f"completed={completed} damaged_or_wrongly_completed={bad}"
    )
    assert raised == writes  # every failed write fails the run
    assert bad == 0


def test_an_error_in_such_a_turn_is_raised_by_the_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn an attempt takes runs in that attempt's task, whose errors nobody awaits: it
    must hand the error to the scheduler, which fails the run with it as for its own turn."""
    from sgr_kernel.engine.lifecycle import LifecycleEngine

    handle = LifecycleEngine._handle

    def broken(self: LifecycleEngine, oc: Any, committed: list[str]) -> None:
        if oc.step == "s3":
            raise RuntimeError("the turn broke on s3")
        handle(self, oc, committed)

    monkeypatch.setattr(LifecycleEngine, "_handle", broken)
    k = _kernel(tmp_path, Durability.NONE)
    result = asyncio.run(asyncio.wait_for(k.run(plan=_chain(6), run_id="run"), 30))
    state = k.load("run")
    assert result.status is RunStatus.FAILED
    assert state.reason is not None and "the turn broke on s3" in state.reason
    assert [state.steps[f"s{i}"].status.value for i in range(6)][:3] == ["COMMITTED"] * 3


def test_the_records_of_one_turn_share_its_time(tmp_path: Path) -> None:
    """One clock read a turn: a commit and the launch its turn made carry the same time; a
    step's launch and its commit (turns 20 ms apart) do not. The real clock, a real log."""
    k = _kernel(tmp_path, Durability.NONE)
    plan = plan_of(
        *(
            {
                "id": f"s{i}",
                "skill": "slow",
                "inputs": {"seconds": 0.02},
                "depends_on": [f"s{i - 1}"] * bool(i),
            }
            for i in range(4)
        )
    )
    assert asyncio.run(k.run(plan=plan, run_id="run")).ok
    ts = {
        (r.step, r.data["status"]): r.ts
        for r in k.store.read("run").records
        if r.type is RecordType.STEP
    }
    for i in range(3):
        assert ts[(f"s{i}", "COMMITTED")] == ts[(f"s{i + 1}", "RUNNING")]
        assert ts[(f"s{i}", "COMMITTED")] - ts[(f"s{i}", "RUNNING")] >= 0.015
