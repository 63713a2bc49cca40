"""Exactly once in every window: an effect whose result is logged is never done again; a run
whose creation is not durable never runs; a store that cannot be written is refused cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from crash_harness import run_plan_child
from services_for_tests import read_sink
from skills_for_tests import make_kernel, plan_of

from sgr_kernel.errors import RunNotCreatedError, TraceWriteError
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.base import RecordType

ONE_POST = plan_of({"id": "once", "skill": "post_effect", "capabilities": ["network"]})
TWO_POSTS = plan_of(
    {"id": "two", "skill": "post_twice", "capabilities": ["network"]},
    {"id": "after", "skill": "noop", "depends_on": ["two"]},
)


def _killed(status: int) -> bool:
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


async def _resume(k: Any, run_id: str = "run") -> Any:
    return await (await k.resume(run_id)).wait()


def _result_write(home: Path, plan: Any) -> list[str]:
    """Crash specs that land right after each effect's result record is written."""
    probe = home / "probe"
    probe.mkdir()
    status = run_plan_child(probe, plan, "__count__:1")
    assert os.WIFEXITED(status)
    records = make_kernel(probe).store.read("run").records
    # ``after_write`` is hit once per record; the K-th hit is the record with seq K - 2
    # (the header is not a record, and hits count from 1).
    return [f"after_write:{r.seq + 1}" for r in records if r.type is RecordType.RESULT]


@pytest.mark.parametrize("plan", [ONE_POST, TWO_POSTS], ids=["one_post", "two_posts"])
def test_a_logged_result_is_committed_from_the_log_never_redone(tmp_path: Path, plan: Any) -> None:
    specs = ["effect_recorded:1", "effect_recorded:2", *_result_write(tmp_path, plan)]
    kills = duplicates = prompts = 0
    for i, spec in enumerate(specs):
        home = tmp_path / f"t{i}"
        home.mkdir()
        if not _killed(run_plan_child(home, plan, spec)):
            continue  # a plan with one effect has no second hit
        kills += 1
        k = make_kernel(home, pause=True)
        result = asyncio.run(_resume(k))
        prompts += result.status is RunStatus.PAUSED
        effects = Counter(read_sink(home / "sink.log"))
        duplicates += sum(n - 1 for n in effects.values() if n > 1)
        assert result.status is RunStatus.COMPLETED, (spec, result)
        assert all(n == 1 for n in effects.values()), (spec, effects)
        state = k.load("run")
        step = "once" if "once" in state.steps else "two"
        carried = [
            r
            for r in k.store.read("run").records
            if r.step == step and r.type is RecordType.RESULT and r.data.get("carried")
        ]
        assert carried, "the finished effect was served from the log, not done again"
    print(f"FIGURE result_to_commit kills={kills} duplicate_effects={duplicates} prompts={prompts}")
    assert kills >= 2


def test_a_finished_effect_is_not_repeated_when_the_next_one_is_in_doubt(tmp_path: Path) -> None:
    # Killed with the second POST's intent durable and its effect not done: the step waits;
    # approved, only the second POST happens again — the first is served from the log.
    status = run_plan_child(tmp_path, TWO_POSTS, "effect_before:2")
    assert _killed(status)
    k = make_kernel(tmp_path, pause=True)
    assert asyncio.run(_resume(k)).status is RunStatus.PAUSED
    st = k.load("run").steps["two"]
    assert st.status is StepStatus.WAITING_APPROVAL
    assert "http call #3" in (st.reason or "") and "not repeated" in (st.reason or "")
    assert "in doubt" in (k.load("run").reason or "")
    k.approve("run", "two", by="test")
    assert asyncio.run(_resume(k)).status is RunStatus.COMPLETED
    assert Counter(read_sink(tmp_path / "sink.log")) == {"post:two:e:1": 1, "post:two:e:2": 1}


def test_the_drawn_id_is_served_again_so_the_output_is_the_same(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    assert os.WIFEXITED(run_plan_child(clean, TWO_POSTS, "__count__:1"))
    want = make_kernel(clean).load("run").steps["two"].output
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    assert _killed(run_plan_child(crashed, TWO_POSTS, "effect_recorded:2"))
    k = make_kernel(crashed, pause=True)
    assert asyncio.run(_resume(k)).status is RunStatus.COMPLETED
    assert k.load("run").steps["two"].output == want


@pytest.mark.parametrize(
    "spec", ["create_header:1", "create_dir_fsync:1", "before_write:1", "after_write:1"]
)
def test_a_run_killed_while_being_created_never_runs(tmp_path: Path, spec: str) -> None:
    assert _killed(run_plan_child(tmp_path, ONE_POST, spec))
    k = make_kernel(tmp_path, pause=True)
    wal = tmp_path / "runs" / "run" / "wal.jsonl"
    before = wal.read_bytes()
    created = any(r.type is RecordType.RUN_CREATED for r in k.store.read("run").records)
    if created:  # the record reached the page cache: the run exists and resumes
        assert asyncio.run(_resume(k)).status is RunStatus.COMPLETED
        return
    assert [s.run_id for s in k.runs()] == []
    with pytest.raises(RunNotCreatedError, match="never created"):
        asyncio.run(_resume(k))
    with pytest.raises(RunNotCreatedError):
        k.load("run")
    assert wal.read_bytes() == before, "a refused run is not written to"
    assert read_sink(tmp_path / "sink.log") == []


def test_a_zero_byte_wal_is_refused_not_rewritten(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "ghost"
    run_dir.mkdir(parents=True)
    (run_dir / "wal.jsonl").write_bytes(b"")
    k = make_kernel(tmp_path, pause=True)
    assert k.runs() == []
    with pytest.raises(RunNotCreatedError):
        asyncio.run(_resume(k, "ghost"))
    assert (run_dir / "wal.jsonl").read_bytes() == b""


def _read_only(path: Path) -> Any:
    """Bind-mount ``path`` read-only over itself (root only); returns an undo."""
    if os.geteuid() != 0:
        pytest.skip("needs root to remount the store read-only")
    assert os.system(f"mount --bind {path} {path} && mount -o remount,ro,bind {path}") == 0
    return lambda: os.system(f"umount {path}")


def test_a_read_only_store_is_a_clear_trace_error(tmp_path: Path) -> None:
    plan = plan_of({"id": "gate", "skill": "noop", "requires_approval": True})
    k = make_kernel(tmp_path, pause=True)
    assert asyncio.run(k.run(plan=plan, run_id="run")).status is RunStatus.PAUSED
    wal = (tmp_path / "runs" / "run" / "wal.jsonl").read_bytes()
    undo = _read_only(tmp_path)
    try:
        k = make_kernel(tmp_path, pause=True)
        with pytest.raises(TraceWriteError, match=r"cannot be written.*nothing was changed"):
            asyncio.run(_resume(k))
        with pytest.raises(TraceWriteError, match="cannot be written"):
            k.approve("run", "gate")
        from sgr_kernel.cli import main

        for argv in (["resume", "run"], ["approve", "run", "gate"]):
            assert main(["--home", str(tmp_path), *argv]) == 6
    finally:
        undo()
    assert (tmp_path / "runs" / "run" / "wal.jsonl").read_bytes() == wal


def test_negative_control_the_harness_sees_a_repeated_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With resume serving nothing from the log (the old behaviour), the same kills repeat
    finished effects — so the harness's zero above is a finding, not a blind spot."""
    from crash_checks import Tally, check_trial, reference
    from crash_harness import fork_child

    from sgr_kernel.engine.context import RunContext

    monkeypatch.setattr(RunContext, "_carried", lambda self, n, kind, request: None)
    t = Tally()
    ref, hits, _ = reference(tmp_path, 11)
    for k in range(1, hits.get("effect_recorded", 0) + 1):
        home = tmp_path / f"k{k}"
        home.mkdir()
        fork_child(home, "run", 11, "run", f"effect_recorded:{k}", None)
        check_trial(home, "run", 11, ref, t)
    print(
        f"FIGURE negative_control duplicate_effects={t.duplicate_effects} "
        f"silent_reexec={t.silent_reexec}"
    )
    assert t.silent_reexec > 0


def test_a_call_that_finished_before_one_started_with_it_is_not_redone(tmp_path: Path) -> None:
    """Calls made together finish in any order: killed when the second POST's result is
    logged and the first is still open, the resumed attempt serves the second from the log
    and makes only the first again."""
    plan = plan_of({"id": "g", "skill": "post_gathered", "capabilities": ["network"]})
    assert _killed(run_plan_child(tmp_path, plan, "effect_recorded:1"))
    assert Counter(read_sink(tmp_path / "sink.log")) == {"post:g:e:2": 1}  # the fast one
    k = make_kernel(tmp_path, pause=True)
    assert asyncio.run(_resume(k)).status is RunStatus.COMPLETED
    assert Counter(read_sink(tmp_path / "sink.log")) == {"post:g:e:2": 1, "post:g:e:1:slow": 1}
    carried = [
        r.data["n"]
        for r in k.store.read("run").records
        if r.type is RecordType.RESULT and r.data.get("carried")
    ]
    assert carried == [2]
