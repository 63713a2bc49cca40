"""The runs API the side panel renders, without HTTP: list, detail, approve/deny/cancel/resume,
export, and steering a run that is live in another process through its inbox (one writer per
run, ADR 011)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from service_helpers import GATE, PNG, artifact_run, live_run

from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.errors import ApprovalError, InvalidRunIdError, RunNotFoundError, TraceLockedError
from sgr_kernel.models.plan import parse_plan
from sgr_kernel.models.status import RunStatus
from sgr_kernel.runs import Runs, RunSummary, Steered

CHAIN = """
name: chain
steps:
  - {id: a, skill: format, inputs: {template: one}}
  - {id: b, skill: format, inputs: {template: "${a.output.text} two"}}
"""


def run_plan(home: Path, text: str) -> str:
    kernel = Kernel(KernelConfig(home=home, pause_when_waiting=True))
    result = asyncio.run(kernel.run(plan=parse_plan(text)))
    return result.run_id


def records(home: Path, run_id: str) -> int:
    return len(Kernel(KernelConfig(home=home)).store.read(run_id).records)


def test_runs_list_and_detail(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run_plan(home, CHAIN)
    paused = run_plan(home, GATE)
    svc = Runs.at(home)

    rows = svc.summaries(newest_first=True)
    assert [r.run_id for r in rows] == [paused, done]  # newest first
    by_id = {r.run_id: r for r in rows}
    assert by_id[done].status is RunStatus.COMPLETED
    assert (by_id[done].steps_total, by_id[done].steps_done) == (2, 2)
    assert by_id[paused].status is RunStatus.PAUSED and by_id[paused].waiting == ["gate"]
    assert by_id[paused].live is None and by_id[paused].holder is None

    d = svc.detail(done)
    assert [s.id for s in d.view.steps] == ["a", "b"]
    assert d.view.steps[1].output == {"text": "one two"}
    assert d.mermaid is not None and "s_a --> s_b" in d.mermaid
    assert "class s_a,s_b sgr_committed" in d.mermaid
    g = svc.detail(paused).mermaid
    assert g is not None and "class s_gate sgr_waiting_approval" in g

    with pytest.raises(RunNotFoundError):
        svc.detail("nope")
    with pytest.raises(InvalidRunIdError):
        svc.detail("../etc")


def test_approve_then_resume_finishes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_id = run_plan(home, GATE)
    svc = Runs.at(home)

    before = records(home, run_id)

    async def go() -> RunStatus:
        with pytest.raises(ApprovalError, match="not waiting"):
            await svc.decide(run_id, "a", approved=True, by="panel")
        assert records(home, run_id) == before  # a refused decision leaves the trace alone

        row = await svc.decide(run_id, "gate", approved=True, by="tester")
        assert row.waiting == [] and row.status is RunStatus.PAUSED
        assert (row.delivered, row.applied, row.resumable) == ("recorded", True, True)
        with pytest.raises(ApprovalError, match="already approved by tester"):
            await svc.decide(run_id, "gate", approved=True, by="panel")
        await svc.resume(run_id)
        return (await svc.wait(run_id)).status

    assert asyncio.run(go()) is RunStatus.COMPLETED
    view = svc.detail(run_id).view
    gate = next(s for s in view.steps if s.id == "gate")
    assert gate.approval is True and gate.approval_by == "tester"
    assert view.steps[-1].output == {"text": "x!"}


def test_deny_and_cancel(tmp_path: Path) -> None:
    home = tmp_path / "home"
    denied, cancelled = run_plan(home, GATE), run_plan(home, GATE)
    svc = Runs.at(home)

    async def finish() -> RunStatus:
        await svc.decide(denied, "gate", approved=False, by="panel", reason="not today")
        await svc.resume(denied)
        return (await svc.wait(denied)).status

    assert asyncio.run(finish()) is RunStatus.FAILED
    steps = {s.id: s for s in svc.detail(denied).view.steps}
    assert "not today" in (steps["gate"].error or steps["gate"].reason or "")
    assert steps["after"].status == "SKIPPED"

    row = asyncio.run(svc.cancel(cancelled, "no longer needed"))
    assert row.status is RunStatus.CANCELLED and row.reason == "no longer needed"
    assert (row.delivered, row.applied) == ("recorded", True)
    assert {s.status for s in svc.detail(cancelled).view.steps} >= {"CANCELLED"}


def test_export_has_view_and_every_record(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_id = run_plan(home, CHAIN)
    out = Runs.at(home).export(run_id)
    assert out["view"]["run_id"] == run_id and out["view"]["status"] == "COMPLETED"
    assert [r["seq"] for r in out["records"]] == list(range(records(home, run_id)))
    assert out["recovery"]["torn_tail"] is False


def wait_for(predicate, proc: subprocess.Popen[str]) -> None:
    """Poll until ``predicate()``; the test's own timeout bounds it, the process must live."""
    while not predicate():
        assert proc.poll() is None, "the run's process died early"
        time.sleep(0.05)


def waiting_row(svc: Runs, proc: subprocess.Popen[str]) -> RunSummary:
    """The run ``proc`` drives, once it waits for approval (live in another process)."""

    def mine() -> RunSummary | None:
        rows = [
            r
            for r in svc.summaries(newest_first=True)
            if r.holder and f"pid={proc.pid} " in f"{r.holder} "
        ]
        return rows[0] if rows and rows[0].waiting else None

    wait_for(lambda: mine() is not None, proc)
    row = mine()
    assert row is not None and row.live == "elsewhere" and row.status is RunStatus.RUNNING
    return row


def gate_records(home: Path, run_id: str) -> tuple[int, int]:
    """(approval records, times `gate` started running) in the run's log."""
    recs = Kernel(KernelConfig(home=home)).store.read(run_id).records
    gate = [r for r in recs if r.step == "gate"]
    approvals = sum(1 for r in gate if r.type == "approval")
    starts = sum(1 for r in gate if r.type == "step" and r.data.get("status") == "RUNNING")
    return approvals, starts


def test_steer_a_run_live_in_another_process_through_its_inbox(tmp_path: Path) -> None:
    """Two notebook kernels (here: subprocesses) drive runs waiting for approval. The service
    approves one (the live process records and applies it: the run finishes COMPLETED with
    the approval recorded once, by the panel) and cancels the other (it ends CANCELLED); it
    never writes into either log itself, and resume stays refused while they are live."""
    home = tmp_path / "home"
    to_approve, to_cancel = live_run(home), live_run(home)
    svc = Runs.at(home)
    try:
        a, c = waiting_row(svc, to_approve), waiting_row(svc, to_cancel)

        async def steer() -> tuple[Steered, Steered]:
            with pytest.raises(ApprovalError, match="not waiting"):
                await svc.decide(
                    a.run_id, "a", approved=True, by="panel"
                )  # refused up front, nothing posted
            with pytest.raises(TraceLockedError, match="another process"):
                await svc.resume(a.run_id)
            approved = await svc.decide(a.run_id, "gate", approved=True, by="panel")
            with pytest.raises(ApprovalError):  # a double decision is refused
                await svc.decide(a.run_id, "gate", approved=True, by="panel")
            return approved, await svc.cancel(c.run_id, "stop it from the panel")

        approved, cancelled = asyncio.run(steer())
        assert (approved.delivered, approved.applied) == ("posted", True)
        assert approved.waiting == []
        assert (cancelled.delivered, cancelled.applied) == ("posted", True)
        assert cancelled.status is RunStatus.CANCELLED
        assert cancelled.reason == "stop it from the panel"
        assert to_approve.stdout is not None and to_cancel.stdout is not None
        assert to_approve.stdout.readline().strip() == "COMPLETED"
        assert to_cancel.stdout.readline().strip() == "CANCELLED"
        assert to_approve.wait() == 0 and to_cancel.wait() == 0
    finally:
        for proc in (to_approve, to_cancel):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()

    view = svc.detail(a.run_id).view
    assert view.status == "COMPLETED" and view.steps[-1].output == {"text": "x!"}
    gate = next(s for s in view.steps if s.id == "gate")
    assert gate.approval is True and gate.approval_by == "panel" and gate.attempts == 1
    approvals, starts = gate_records(home, a.run_id)
    assert (approvals, starts) == (1, 1)
    # The applied request is gone; the double decision was refused before anything was posted.
    assert list((svc.kernel.store.run_dir(a.run_id) / "inbox").rglob("*.json")) == []
    c_view = svc.detail(c.run_id).view
    assert {s.id: s.status for s in c_view.steps}["gate"] == "CANCELLED"
    assert svc.summaries(newest_first=True)[0].live is None  # both writers let go
    double = (approvals - 1) + (starts - 1)
    print(
        f"FIGURE panel live_elsewhere approved_via_inbox={int(approved.applied)} "
        f"cancelled_via_inbox={int(cancelled.status is RunStatus.CANCELLED)} "
        f"double_execution={double}"
    )


def test_a_killed_writer_is_recognised_and_its_run_steerable_here(tmp_path: Path) -> None:
    """The process driving a run dies (kill -9) while it waits: its lock text is recognised as
    stale, the approval is recorded (not posted) and a resume here finishes the run."""
    home = tmp_path / "home"
    proc = live_run(home)
    svc = Runs.at(home)
    try:
        row = waiting_row(svc, proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    (after_kill,) = svc.summaries(newest_first=True)
    assert after_kill.live is None and after_kill.holder is None

    async def finish() -> tuple[Steered, RunStatus]:
        steered = await svc.decide(row.run_id, "gate", approved=True, by="panel")
        await svc.resume(row.run_id)
        return steered, (await svc.wait(row.run_id)).status

    steered, status = asyncio.run(finish())
    assert steered.delivered == "recorded" and status is RunStatus.COMPLETED


def test_runs_api_imports_no_jupyter() -> None:
    """The runs API is Jupyter-free (docs/jupyter.md): only the handlers know jupyter-server."""
    code = (
        "import sys, sgr_kernel.runs; "
        "bad = [m for m in ('jupyter_server', 'tornado', 'IPython', 'traitlets', 'ipywidgets') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_artifacts_referenced_by_outputs_are_served(tmp_path: Path) -> None:
    kernel, run_id = artifact_run(tmp_path / "home")
    svc = Runs(kernel)
    (png, page) = svc.detail(run_id).view.steps[0].output["artifacts"]  # type: ignore[index]
    art, data = svc.artifact(run_id, png["sha256"])
    assert (data, art.media_type, art.name, art.inline) == (PNG, "image/png", "sales.png", True)
    html, _ = svc.artifact(run_id, page["sha256"])
    assert (html.media_type, html.inline) == ("text/html", False)
    assert [a.sha256 for a in svc.artifacts(run_id)] == [png["sha256"], page["sha256"]]
    assert [(a.name, a.inline) for a in svc.detail(run_id).artifacts] == [
        ("sales.png", True),
        (page["name"], False),
    ]
    other = kernel.store.put_artifact(run_id, b"never referenced", name="n")
    for sha in (other.sha256, "0" * 64, "../../etc/passwd"):
        with pytest.raises(KeyError):
            svc.artifact(run_id, sha)


def test_a_damaged_run_does_not_hide_the_others(tmp_path: Path) -> None:
    home = tmp_path / "home"
    good, bad = run_plan(home, CHAIN), run_plan(home, CHAIN)
    svc = Runs.at(home)
    wal = svc.kernel.store.run_dir(bad) / "wal.jsonl"
    lines = wal.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"data"', b'"dat4"', 1)  # mid-log damage; valid records follow
    wal.write_bytes(b"\n".join(lines))
    rows = {r.run_id: r for r in svc.summaries(newest_first=True)}
    assert rows[good].status is RunStatus.COMPLETED
    assert rows[bad].name.startswith("(unreadable") and rows[bad].status is RunStatus.FAILED


def test_runs_whose_creation_never_became_durable_are_not_listed(tmp_path: Path) -> None:
    from sgr_kernel.trace import _format

    real = run_plan(tmp_path, GATE)
    empty = tmp_path / "runs" / "r-empty"
    empty.mkdir(parents=True)
    (empty / "wal.jsonl").write_bytes(b"")
    header_only = tmp_path / "runs" / "r-header"
    header_only.mkdir()
    (header_only / "wal.jsonl").write_bytes(_format.encode_header("r-header", "00" * 16, 1))
    assert [r.run_id for r in Runs.at(tmp_path).summaries()] == [real]
