"""The runs API's own rules, against real kernels and the real file store: one summary shape
(internal planning steps not counted), one inline allowlist, one run-id check, one store root,
the store's layout behind its contract, and replay that reports divergences."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest
from pydantic import BaseModel

from sgr_kernel._defaults import default_skills
from sgr_kernel.engine import Kernel, KernelConfig
from sgr_kernel.errors import InvalidRunIdError
from sgr_kernel.llm.base import Message
from sgr_kernel.llm.scripted import ScriptedLLM
from sgr_kernel.models.plan import parse_plan
from sgr_kernel.models.status import RunStatus
from sgr_kernel.runs import (
    INLINE_MEDIA_TYPES,
    Runs,
    default_root,
    is_inline,
    is_internal_step,
    validate_run_id,
)
from sgr_kernel.skills.base import CAP_LLM, Skill, SkillContext
from sgr_kernel.testing.memory_store import MemoryTraceStore
from sgr_kernel.trace.base import RecordType
from sgr_kernel.trace.state import PLAN_STEP
from sgr_kernel.trace.wal import FileTraceStore

TWO_STEPS = {
    "steps": [
        {"skill": "answer", "inputs": {"question": "one?"}},
        {"skill": "format", "inputs": {"template": "${s1.output.text} two"}},
    ]
}


def test_a_planned_run_counts_only_the_plan_steps(tmp_path: Path) -> None:
    """A task's planner step is internal: not in the counts, not in the outputs."""
    kernel = Kernel(
        KernelConfig(home=tmp_path),
        llm=ScriptedLLM([TWO_STEPS, {"reasoning": "-", "answer": "one"}]),
    )
    result = asyncio.run(kernel.run(task="say one, then two"))
    assert result.status is RunStatus.COMPLETED
    runs = Runs(kernel)
    assert PLAN_STEP in kernel.load(result.run_id).steps  # the planner did run as a step

    (row,) = runs.summaries()
    assert (row.steps_total, row.steps_committed, row.steps_done) == (2, 2, 2)
    assert row.started_at is not None and row.started_at == row.created_ts
    assert row.duration_s is not None and row.duration_s >= 0
    assert row.status is RunStatus.COMPLETED and row.live is None

    report = runs.report(result.run_id)
    assert PLAN_STEP in [s.id for s in report.steps]  # shown, for what it did ...
    assert PLAN_STEP not in report.outputs  # ... but its plan is not a user output
    assert report.summary == row


def test_a_run_that_has_not_ended_has_no_duration(tmp_path: Path) -> None:
    plan = parse_plan(
        "steps:\n  - {id: gate, skill: format, requires_approval: true, inputs: {template: x}}\n"
    )
    kernel = Kernel(KernelConfig(home=tmp_path, pause_when_waiting=True))
    run_id = asyncio.run(kernel.run(plan=plan)).run_id
    row = Runs(kernel).summary(run_id)
    assert row.status is RunStatus.PAUSED and row.duration_s is None
    assert row.waiting == ["gate"] and (row.steps_total, row.steps_committed) == (1, 0)


@pytest.mark.parametrize(
    ("media", "inline"),
    [
        ("image/png", True),
        ("IMAGE/JPEG; q=1", True),
        ("image/gif", True),
        ("image/webp", True),
        ("video/mp4", True),
        ("image/svg+xml", False),  # SVG can carry script
        ("text/html", False),
        ("application/octet-stream", False),
        ("", False),
    ],
)
def test_one_inline_allowlist(media: str, inline: bool) -> None:
    assert is_inline(media) is inline
    assert all(t.startswith(("image/", "video/")) for t in INLINE_MEDIA_TYPES)


def test_internal_steps() -> None:
    assert is_internal_step(PLAN_STEP) and is_internal_step("__replan__")
    assert not is_internal_step("plan") and not is_internal_step("_private")


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", "a:b", "-lead", "x" * 129, "a..b"])
def test_one_run_id_check(bad: str) -> None:
    with pytest.raises(InvalidRunIdError):
        validate_run_id(bad)
    assert validate_run_id("r6b0f02af-05168c5c") == "r6b0f02af-05168c5c"


def test_an_empty_store_root_means_the_home_default(monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path("~/.sgr").expanduser()
    monkeypatch.delenv("SGR_HOME", raising=False)
    assert default_root() == home and default_root("") == home and default_root("  ") == home
    monkeypatch.setenv("SGR_HOME", "")
    assert default_root(None) == home  # an empty SGR_HOME is never the current directory
    monkeypatch.setenv("SGR_HOME", "/srv/sgr")
    assert default_root("") == Path("/srv/sgr")
    assert default_root("~/x") == Path("~/x").expanduser()


def test_the_store_says_who_holds_a_run(tmp_path: Path) -> None:
    """The lock's text format stays inside the file store; callers only ask ``holder``."""
    store = FileTraceStore(tmp_path)
    with store.create("r-held") as writer:
        writer.append(RecordType.RUN_CREATED, {"run_id": "r-held"}, ts=1.0, durable=True)
        assert store.holder("r-held") is None  # this process's own lock
    assert store.holder("r-held") is None  # let go: the lock file is emptied
    lock = store.run_dir("r-held") / "lock"
    lock.write_text("pid=999999999 host=" + socket.gethostname())
    assert store.holder("r-held") is None  # a dead pid on this host: stale
    lock.write_text("pid=1 host=elsewhere.example")
    assert store.holder("r-held") == "pid=1 host=elsewhere.example"
    lock.write_text(f"pid={os.getppid()} host={socket.gethostname()}")
    assert store.holder("r-held") == f"pid={os.getppid()} host={socket.gethostname()}"
    assert MemoryTraceStore(tmp_path).holder("r-held") is None  # the contract's default


def test_the_log_stamp_moves_with_the_log(tmp_path: Path) -> None:
    store = FileTraceStore(tmp_path)
    with store.create("r-stamp") as writer:
        writer.append(RecordType.RUN_CREATED, {"run_id": "r-stamp"}, ts=1.0, durable=True)
        before = store.log_stamp("r-stamp")
        writer.append(RecordType.RUN_STATUS, {"status": "RUNNING"}, ts=2.0, durable=True)
    assert before is not None and store.log_stamp("r-stamp") != before
    assert store.log_stamp("r-none") is None


class _Ask(BaseModel):
    answer: str


class _Question(BaseModel):
    question: str


class _Text(BaseModel):
    text: str


def _asking(prompt: str) -> type[Skill]:
    class Ask(Skill):
        name = "ask"
        description = "asks the model one fixed question"
        Input = _Question
        Output = _Text
        capabilities = frozenset({CAP_LLM})
        idempotent = True

        async def run(self, ctx: SkillContext, inputs: _Question) -> _Text:
            out = await ctx.generate(_Ask, [Message(role="user", content=prompt)])
            return _Text(text=out.answer)

    return Ask


def test_replay_reports_a_divergence_instead_of_raising(tmp_path: Path) -> None:
    """The same strict replay for every face: zero live calls, the divergence in the report."""
    plan = parse_plan("steps:\n  - {id: q, skill: ask, inputs: {question: x}}\n")
    recorded = Kernel(
        KernelConfig(home=tmp_path),
        skills={**default_skills(), "ask": _asking("first wording")},
        llm=ScriptedLLM([{"answer": "42"}]),
    )
    result = asyncio.run(recorded.run(plan=plan))
    assert result.status is RunStatus.COMPLETED, result.reason
    run_id = result.run_id
    same = asyncio.run(Runs(recorded).replay(run_id))
    assert same.ok and same.live_calls == 0

    changed = Kernel(
        KernelConfig(home=tmp_path), skills={**default_skills(), "ask": _asking("new wording")}
    )
    report = asyncio.run(Runs(changed).replay(run_id))
    assert not report.ok and report.divergences and report.live_calls == 0
    assert report.divergences[0].step == "q"


def test_a_running_remote_steps_progress_is_seen_by_another_reader(tmp_path: Path) -> None:
    """The side panel reads runs through a kernel of its own: a remote step's progress
    reaches it from the log while the step runs, not only the process that runs it."""
    import json
    import threading
    import time

    from sgr_kernel.dispatch.inline import InlineDispatcher
    from sgr_kernel.testing.jobs import RemoteJobSkill

    step = {
        "id": "a",
        "skill": "remote_job",
        "capabilities": ["remote"],
        "inputs": {"job_type": "sgr_test_work", "params": {"x": 3, "seconds": 4.0, "steps": 8}},
    }
    plan = parse_plan(json.dumps({"name": "progress", "steps": [step]}))
    runner = Kernel(
        KernelConfig(home=tmp_path),
        skills={"remote_job": RemoteJobSkill},
        dispatcher=InlineDispatcher(),
    )
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(asyncio.run(runner.run(plan=plan))))
    thread.start()
    reader = Runs(Kernel(KernelConfig(home=tmp_path), skills={"remote_job": RemoteJobSkill}))
    seen: list[dict[str, object]] = []
    try:
        deadline = time.monotonic() + 60
        while not done and time.monotonic() < deadline and not seen:
            for summary in reader.summaries():
                (st,) = [s for s in reader.detail(summary.run_id).view.steps if s.id == "a"]
                if st.status == "RUNNING" and st.progress is not None:
                    seen.append(st.progress)
            time.sleep(0.1)
    finally:
        thread.join(60)
    assert seen, "no progress was visible from the log while the step ran"
    (p,) = seen
    assert 0 < float(p["fraction"]) < 1 and str(p["message"]).startswith("slice ")  # type: ignore[arg-type]
    result = done[0]
    assert result.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
    finished = reader.detail(result.run_id).view  # type: ignore[attr-defined]
    assert [s.progress for s in finished.steps if s.id == "a"] == [None]  # only while running
    print(f"FIGURE panel_progress seen_while_running=1 fraction={p['fraction']}")
