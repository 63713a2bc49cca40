"""Approvals: wait, approve, deny; the decision is recorded and survives a crash."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from services_for_tests import read_sink
from skills_for_tests import make_kernel, plan_of

from sgr_kernel.errors import ApprovalError
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.base import RecordType

PLAN = (
    {"id": "a", "skill": "noop", "inputs": {"x": 1}},
    {
        "id": "pay",
        "skill": "post_effect",
        "capabilities": ["network"],
        "requires_approval": True,
        "inputs": {"x": {"$ref": "a.output.value"}},
    },
    {"id": "after", "skill": "noop", "inputs": {"x": {"$ref": "pay.output.value"}}},
    {"id": "indep", "skill": "noop"},
)


def _approvals(k: Any, run_id: str) -> list[dict[str, Any]]:
    return [r.data for r in k.store.read(run_id).records if r.type is RecordType.APPROVAL]


def _wait_for(k: Any, run_id: str, sid: str, status: StepStatus) -> Any:
    async def poll() -> None:
        while k.load(run_id).steps[sid].status is not status:
            await asyncio.sleep(0.005)

    return poll()


@pytest.mark.parametrize("approve", [True, False])
def test_live_approval_wait_then_decide(tmp_path: Path, approve: bool) -> None:
    k = make_kernel(tmp_path)

    async def go() -> Any:
        handle = await k.start(plan=plan_of(*PLAN))
        await _wait_for(k, handle.run_id, "pay", StepStatus.WAITING_APPROVAL)
        assert read_sink(tmp_path / "sink.log") == []  # nothing ran before the decision
        if approve:
            k.approve(handle.run_id, "pay", by="alice")
        else:
            k.deny(handle.run_id, "pay", by="bob", reason="too expensive")
        with pytest.raises(ApprovalError):
            k.approve(handle.run_id, "pay")  # decided already
        return await handle.wait()

    result = asyncio.run(go())
    st = k.load(result.run_id).steps
    decisions = _approvals(k, result.run_id)
    assert len(decisions) == 1
    assert st["indep"].status is StepStatus.COMMITTED
    if approve:
        assert result.status is RunStatus.COMPLETED
        assert decisions[0]["approved"] is True and decisions[0]["by"] == "alice"
        assert read_sink(tmp_path / "sink.log") == ["post:pay:e"]
    else:
        assert result.status is RunStatus.FAILED
        assert decisions[0] == {"approved": False, "by": "bob", "reason": "too expensive"}
        assert st["pay"].status is StepStatus.FAILED
        assert st["pay"].failure is not None and st["pay"].failure.type == "ApprovalDenied"
        assert st["after"].status is StepStatus.SKIPPED
        assert read_sink(tmp_path / "sink.log") == []


def test_pause_decide_offline_then_resume(tmp_path: Path) -> None:
    k = make_kernel(tmp_path, pause=True)
    paused = asyncio.run(k.run(plan=plan_of(*PLAN)))
    assert paused.status is RunStatus.PAUSED
    assert "pay" in (paused.reason or "")
    with pytest.raises(ApprovalError):
        k.approve(paused.run_id, "indep")
    k.approve(paused.run_id, "pay", by="carol")

    async def go() -> Any:
        return await (await k.resume(paused.run_id)).wait()

    result = asyncio.run(go())
    assert result.status is RunStatus.COMPLETED
    assert _approvals(k, result.run_id) == [{"approved": True, "by": "carol", "reason": None}]
    assert read_sink(tmp_path / "sink.log") == ["post:pay:e"]


def _child_waits_for_approval(home: Path, decide: bool) -> tuple[str, int]:
    """Fork a child that runs the plan until 'pay' waits and reports the run id. With
    ``decide``, it then approves and SIGKILLs itself the moment the approval record is
    durable (decided, not yet applied); else it blocks until killed."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            k = make_kernel(home)

            def die_on_approval(rec: Any) -> None:
                if rec.type is RecordType.APPROVAL:
                    os.kill(os.getpid(), signal.SIGKILL)

            async def go() -> None:
                handle = await k.start(plan=plan_of(*PLAN))
                handle.subscribe(die_on_approval)
                await _wait_for(k, handle.run_id, "pay", StepStatus.WAITING_APPROVAL)
                os.write(w, handle.run_id.encode())
                if decide:
                    k.approve(handle.run_id, "pay", by="dave")
                await asyncio.sleep(3600)

            asyncio.run(go())
        finally:
            os._exit(1)
    os.close(w)
    run_id = os.read(r, 200).decode()
    os.close(r)
    return run_id, pid


@pytest.mark.parametrize("decided_before_crash", [False, True])
def test_approvals_across_a_crash(tmp_path: Path, decided_before_crash: bool) -> None:
    run_id, pid = _child_waits_for_approval(tmp_path, decided_before_crash)
    if not decided_before_crash:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    k = make_kernel(tmp_path, pause=True)
    if decided_before_crash:
        with pytest.raises(ApprovalError, match="already approved by dave; the run applies it"):
            k.approve(run_id, "pay")  # no re-prompt: the recorded decision stands
    else:
        k.approve(run_id, "pay", by="dave")

    async def resume() -> Any:
        return await (await k.resume(run_id)).wait()

    result = asyncio.run(resume())
    assert result.status is RunStatus.COMPLETED
    # Recorded once, applied once, not asked again, and the effect happened exactly once.
    assert _approvals(k, run_id) == [{"approved": True, "by": "dave", "reason": None}]
    assert read_sink(tmp_path / "sink.log") == ["post:pay:e"]
    records = k.store.read(run_id).records
    waits = [r for r in records if r.step == "pay" and r.data.get("status") == "WAITING_APPROVAL"]
    assert len(waits) == 1
    runs = [r for r in records if r.step == "pay" and r.data.get("status") == "RUNNING"]
    assert len(runs) == 1
    # A second resume has nothing to do and does not re-prompt.
    from sgr_kernel.errors import SgrUsageError

    with pytest.raises(SgrUsageError):
        asyncio.run(k.resume(run_id))


def test_auto_approval_mode_records_the_decision(tmp_path: Path) -> None:
    from sgr_kernel.engine import RunConfig

    k = make_kernel(tmp_path, run=RunConfig(approval_mode="auto"))
    result = asyncio.run(k.run(plan=plan_of(*PLAN)))
    assert result.status is RunStatus.COMPLETED
    assert _approvals(k, result.run_id) == [
        {"approved": True, "by": "auto", "reason": "approval_mode=auto"}
    ]
