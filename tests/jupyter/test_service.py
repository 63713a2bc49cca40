"""RunService without HTTP: list, detail, approve/deny/cancel/resume, export, and the
one-writer rule against a run that is live in another process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from service_helpers import PNG, artifact_run

from sgr_jupyter._service import RunService
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.errors import ApprovalError, InvalidRunIdError, RunNotFoundError, TraceLockedError
from sgr_kernel.models.plan import parse_plan
from sgr_kernel.models.status import RunStatus

CHAIN = """
name: chain
steps:
  - {id: a, skill: format, inputs: {template: one}}
  - {id: b, skill: format, inputs: {template: "${a.output.text} two"}}
"""
GATE = """
name: gate
steps:
  - {id: a, skill: format, inputs: {template: x}}
  - {id: gate, skill: format, requires_approval: true, inputs: {template: "${a.output.text}!"}}
  - {id: after, skill: format, inputs: {template: "${gate.output.text}"}}
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
    svc = RunService(home)

    rows = svc.runs()
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
    svc = RunService(home)

    before = records(home, run_id)
    with pytest.raises(ApprovalError, match="not waiting"):
        svc.approve(run_id, "a")
    assert records(home, run_id) == before  # a refused decision leaves the trace alone

    row = svc.approve(run_id, "gate", by="tester")
    assert row.waiting == [] and row.status is RunStatus.PAUSED
    with pytest.raises(ApprovalError, match="already decided"):
        svc.approve(run_id, "gate")

    async def go() -> RunStatus:
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
    svc = RunService(home)

    svc.deny(denied, "gate", reason="not today")

    async def finish() -> RunStatus:
        await svc.resume(denied)
        return (await svc.wait(denied)).status

    assert asyncio.run(finish()) is RunStatus.FAILED
    steps = {s.id: s for s in svc.detail(denied).view.steps}
    assert "not today" in (steps["gate"].error or steps["gate"].reason or "")
    assert steps["after"].status == "SKIPPED"

    row = asyncio.run(svc.cancel(cancelled, "no longer needed"))
    assert row.status is RunStatus.CANCELLED and row.reason == "no longer needed"
    assert {s.status for s in svc.detail(cancelled).view.steps} >= {"CANCELLED"}


def test_export_has_view_and_every_record(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_id = run_plan(home, CHAIN)
    out = RunService(home).export(run_id)
    assert out["view"]["run_id"] == run_id and out["view"]["status"] == "COMPLETED"
    assert [r["seq"] for r in out["records"]] == list(range(records(home, run_id)))
    assert out["recovery"]["torn_tail"] is False


LIVE = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from sgr_kernel.engine.kernel import Kernel, KernelConfig
    from sgr_kernel.models.plan import parse_plan
    kernel = Kernel(KernelConfig(home=Path(sys.argv[1]), pause_when_waiting=False))
    asyncio.run(kernel.run(plan=parse_plan(sys.stdin.read())))
    """
)


def wait_for(predicate, proc: subprocess.Popen[bytes]) -> None:
    """Poll until ``predicate()``; the test's own timeout bounds it, the process must live."""
    while not predicate():
        assert proc.poll() is None, "the run's process died early"
        time.sleep(0.05)


def test_run_live_in_another_process_is_refused_then_steerable_after_it_dies(
    tmp_path: Path,
) -> None:
    """A notebook kernel (here: a subprocess) drives a run waiting for approval; the service
    refuses to write into it (409 upstream) and leaves its trace untouched. Once that process
    is killed, the same approval is recorded and a resume here finishes the run."""
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [sys.executable, "-c", LIVE, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    proc.stdin.write(GATE.encode())
    proc.stdin.close()
    svc = RunService(home)
    try:
        wait_for(lambda: any(r.waiting for r in svc.runs()), proc)
        (row,) = svc.runs()
        assert row.live == "elsewhere" and row.status is RunStatus.RUNNING
        assert row.holder is not None and f"pid={proc.pid}" in row.holder
        before = records(home, row.run_id)
        refused = 0
        with pytest.raises(TraceLockedError, match="another process"):
            svc.approve(row.run_id, "gate")
        refused += 1
        with pytest.raises(TraceLockedError):
            svc.deny(row.run_id, "gate")
        refused += 1
        with pytest.raises(TraceLockedError):
            asyncio.run(svc.cancel(row.run_id))
        refused += 1
        with pytest.raises(TraceLockedError):
            asyncio.run(svc.resume(row.run_id))
        refused += 1
        assert records(home, row.run_id) == before
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    (after_kill,) = svc.runs()
    assert after_kill.live is None  # the dead writer's lock text is recognised as stale
    svc.approve(row.run_id, "gate")

    async def finish() -> RunStatus:
        await svc.resume(row.run_id)
        return (await svc.wait(row.run_id)).status

    status = asyncio.run(finish())
    assert status is RunStatus.COMPLETED
    print(
        f"FIGURE panel live_elsewhere refused={refused} trace_writes_while_live=0 "
        f"after_kill={status.value}"
    )


def test_service_imports_no_jupyter() -> None:
    """The service is Jupyter-free (DESIGN §4): only the handlers know jupyter-server."""
    code = (
        "import sys, sgr_jupyter._service; "
        "bad = [m for m in ('jupyter_server', 'tornado', 'IPython', 'traitlets', 'ipywidgets') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_artifacts_referenced_by_outputs_are_served(tmp_path: Path) -> None:
    kernel, run_id = artifact_run(tmp_path / "home")
    svc = RunService(kernel=kernel)
    (png, page) = svc.detail(run_id).view.steps[0].output["artifacts"]  # type: ignore[index]
    assert svc.artifact(run_id, png["sha256"]) == (PNG, "image/png", "sales.png")
    assert svc.artifact(run_id, page["sha256"])[1] == "text/html"
    other = kernel.store.put_artifact(run_id, b"never referenced", name="n")
    for sha in (other.sha256, "0" * 64, "../../etc/passwd"):
        with pytest.raises(KeyError):
            svc.artifact(run_id, sha)


def test_a_damaged_run_does_not_hide_the_others(tmp_path: Path) -> None:
    home = tmp_path / "home"
    good, bad = run_plan(home, CHAIN), run_plan(home, CHAIN)
    svc = RunService(home)
    wal = svc.kernel.store.run_dir(bad) / "wal.jsonl"
    lines = wal.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"data"', b'"dat4"', 1)  # mid-log damage; valid records follow
    wal.write_bytes(b"\n".join(lines))
    rows = {r.run_id: r for r in svc.runs()}
    assert rows[good].status is RunStatus.COMPLETED
    assert rows[bad].name.startswith("(unreadable") and rows[bad].status is RunStatus.FAILED
