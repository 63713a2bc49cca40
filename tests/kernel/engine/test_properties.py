"""Property tests: the transition table, and the scheduler on random DAGs (checked from the WAL)."""

from __future__ import annotations

import asyncio
import functools
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from services_for_tests import SeqEntropy, TickClock
from skills_for_tests import make_kernel, plan_of

from sgr_kernel.engine import RunConfig
from sgr_kernel.engine.journal import MemoryWriter, RunJournal
from sgr_kernel.errors import IllegalTransitionError
from sgr_kernel.models.status import (
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    RunStatus,
    StepStatus,
)
from sgr_kernel.trace.base import Durability, RecordType
from sgr_kernel.trace.state import RunState


def _journal() -> RunJournal:
    return RunJournal(MemoryWriter("r"), RunState(run_id="r"), TickClock())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(StepStatus)), max_size=12))
def test_step_journal_accepts_exactly_the_table(targets: list[StepStatus]) -> None:
    journal = _journal()
    for target in targets:
        before = journal.state.step("s").status
        n = len(journal.writer.records)  # type: ignore[attr-defined]
        if target in STEP_TRANSITIONS[before]:
            journal.step_status("s", target)
            assert journal.state.step("s").status is target
        else:
            with pytest.raises(IllegalTransitionError):
                journal.step_status("s", target)
            # A refused transition writes nothing and changes nothing.
            assert journal.state.step("s").status is before
            assert len(journal.writer.records) == n  # type: ignore[attr-defined]


_MOVES = st.sampled_from(
    [("status", t) for t in StepStatus]
    + [("launch", ()), ("launch", (StepStatus.READY,)), ("commit", ())]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_MOVES, max_size=12))
def test_launches_and_commits_accept_exactly_the_table(
    moves: list[tuple[str, Any]],
) -> None:
    """The scheduler's launch and commit (templated records, inline checks) obey the same
    table as any other move, hop by hop."""
    journal = _journal()
    for kind, arg in moves:
        before = journal.state.step("s").status
        n = len(journal.writer.records)  # type: ignore[attr-defined]
        if kind == "status":
            hops: tuple[StepStatus, ...] = (arg,)
            move: Any = functools.partial(journal.step_status, "s", arg)
        elif kind == "launch":
            hops = (*arg, StepStatus.RUNNING)
            move = functools.partial(journal.step_launched, "s", 1, 0.5, via=arg)
        else:
            hops = (StepStatus.COMMITTED,)
            move = functools.partial(journal.step_committed, "s", 1, {"v": 1})
        legal, at = True, before
        for hop in hops:
            legal = legal and hop in STEP_TRANSITIONS[at]
            at = hop
        if legal:
            move()
            assert journal.state.step("s").status is hops[-1]
        else:
            with pytest.raises(IllegalTransitionError):
                move()
            assert journal.state.step("s").status is before
            assert len(journal.writer.records) == n  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(RunStatus)), max_size=10))
def test_run_journal_accepts_exactly_the_table(targets: list[RunStatus]) -> None:
    journal = _journal()
    for target in targets:
        before = journal.state.status
        if target in RUN_TRANSITIONS[before]:
            journal.run_status(target)
            assert journal.state.status is target
        else:
            with pytest.raises(IllegalTransitionError):
                journal.run_status(target)
            assert journal.state.status is before


def test_terminal_states_have_no_exits() -> None:
    for s in StepStatus:
        assert (not STEP_TRANSITIONS[s]) == s.terminal
    for r in RunStatus:
        assert (not RUN_TRANSITIONS[r]) == r.terminal


# ---------------------------------------------------------------- the scheduler

KINDS = ("noop", "noop", "noop", "flaky", "fail", "fatal", "slow")


@st.composite
def dags(draw: Any) -> tuple[list[dict[str, Any]], int]:
    n = draw(st.integers(1, 9))
    steps: list[dict[str, Any]] = []
    for i in range(n):
        parents = sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else []
        kind = draw(st.sampled_from(KINDS))
        step: dict[str, Any] = {"id": f"s{i}", "skill": "noop", "inputs": {"x": i}}
        # Half the edges are references (data), half plain depends_on (order only).
        for p in parents:
            if draw(st.booleans()):
                step["inputs"][f"in{p}"] = {"$ref": f"s{p}.output.value"}
            else:
                step.setdefault("depends_on", []).append(f"s{p}")
        if kind == "flaky":
            step.update(skill="flaky", retry={"max_attempts": 3, "backoff_s": 0.0})
            step["inputs"]["fail_times"] = draw(st.integers(0, 3))
        elif kind == "fail":
            step.update(skill="always_fail", retry={"max_attempts": 2, "backoff_s": 0.0})
        elif kind == "fatal":
            step.update(skill="always_fail", retry={"max_attempts": 3, "backoff_s": 0.0})
            step["inputs"]["retryable"] = False
        elif kind == "slow":
            step.update(skill="slow")
            step["inputs"]["seconds"] = 0.001
        steps.append(step)
    return steps, draw(st.integers(1, 4))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_scheduler_on_random_dags(case: tuple[list[dict[str, Any]], int]) -> None:
    steps, concurrency = case
    plan = plan_of(*steps)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = RunConfig(max_concurrency=concurrency, durability=Durability.NONE)
        k = make_kernel(Path(tmp), run=cfg, entropy=SeqEntropy(1))
        result = asyncio.run(k.run(plan=plan))
        records = list(k.store.read(result.run_id).records)
        state = k.load(result.run_id)

    parents = {
        s["id"]: set(s.get("depends_on", []))
        | {v["$ref"].split(".")[0] for v in s["inputs"].values() if isinstance(v, dict)}
        for s in steps
    }
    committed: set[str] = set()
    running: set[str] = set()
    for rec in records:
        if rec.type is not RecordType.STEP:
            continue
        sid, status = rec.step, rec.data["status"]
        assert sid is not None
        if status == "RUNNING":
            # No step runs before every parent has committed, in log order.
            assert parents[sid] <= committed, (sid, parents[sid], committed)
            running.add(sid)
            assert len(running) <= concurrency
        elif status in ("COMMITTED", "FAILED", "RETRY_WAIT", "CANCELLED"):
            running.discard(sid)
        if status == "COMMITTED":
            committed.add(sid)

    # Every step ends terminal, and the run status agrees with the step statuses.
    final = {sid: s.status for sid, s in state.steps.items()}
    assert all(s.terminal for s in final.values()), final
    failed = {sid for sid, s in final.items() if s is StepStatus.FAILED}
    if failed:
        assert result.status is RunStatus.FAILED
    else:
        assert result.status is RunStatus.COMPLETED
        assert all(s is StepStatus.COMMITTED for s in final.values())
    for sid, s in final.items():
        if s is StepStatus.SKIPPED:
            # Skipped only because something upstream failed.
            anc, todo = set(), list(parents[sid])
            while todo:
                p = todo.pop()
                if p not in anc:
                    anc.add(p)
                    todo.extend(parents[p])
            assert anc & failed, (sid, anc, failed)
        if s is StepStatus.COMMITTED:
            assert parents[sid] <= committed
