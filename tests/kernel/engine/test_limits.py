"""Budgets (→ ABORTED with the reason), timeouts (the blocking child really dies), cancel, fork."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from services_for_tests import TickClock
from skills_for_tests import make_kernel, plan_of

from sgr_kernel.engine import RunConfig
from sgr_kernel.llm.scripted import ScriptedLLM
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.base import RecordType


def _run(k: Any, plan: Any) -> Any:
    return asyncio.run(k.run(plan=plan))


def _asks(n: int) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [{"id": "q0", "skill": "ask", "inputs": {"question": "q"}}]
    for i in range(1, n):
        steps.append(
            {"id": f"q{i}", "skill": "ask", "inputs": {"question": f"${{q{i - 1}.output.text}}"}}
        )
    return steps


@pytest.mark.parametrize(
    ("resource", "budget", "llm"),
    [
        ("tokens", {"max_tokens": 4}, None),
        ("llm_calls", {"max_llm_calls": 2}, None),
        (
            "cost_usd",
            {"max_cost_usd": 1.0},
            [{"text": "x", "usage": {"prompt_tokens": 1, "completion_tokens": 1, "cost_usd": 0.6}}]
            * 3,
        ),
    ],
)
def test_spend_budgets_abort_the_run(
    tmp_path: Path, resource: str, budget: dict[str, Any], llm: Any
) -> None:
    k = make_kernel(tmp_path, llm=ScriptedLLM(llm) if llm else None)
    result = _run(k, plan_of(*_asks(3), budget=budget))
    assert result.status is RunStatus.ABORTED
    assert f"budget exceeded: {resource}" in (result.reason or "")
    st = k.load(result.run_id).steps
    assert st["q0"].status is StepStatus.COMMITTED
    assert not all(s.status is StepStatus.COMMITTED for s in st.values())
    assert all(s.status.terminal for s in st.values())


def test_step_budget_counts_retries(tmp_path: Path) -> None:
    k = make_kernel(tmp_path)
    retry = {"max_attempts": 5, "backoff_s": 0.0}
    plan = plan_of(
        {"id": "a", "skill": "noop"},
        {"id": "f", "skill": "flaky", "inputs": {"fail_times": 3}, "retry": retry},
        budget={"max_steps": 3},
    )
    result = _run(k, plan)
    assert result.status is RunStatus.ABORTED
    assert "budget exceeded: steps 4 of 3" in (result.reason or "")
    assert k.load(result.run_id).usage.steps_launched == 3


def test_wall_time_budget(tmp_path: Path) -> None:
    k = make_kernel(tmp_path, clock=TickClock(tick=1.0))
    steps = [
        {"id": f"s{i}", "skill": "noop", "depends_on": [f"s{i - 1}"] if i else []}
        for i in range(30)
    ]
    result = _run(k, plan_of(*steps, budget={"max_wall_s": 10}))
    assert result.status is RunStatus.ABORTED
    assert "budget exceeded: wall_s" in (result.reason or "")
    st = k.load(result.run_id).steps
    assert st["s0"].status is StepStatus.COMMITTED
    assert st["s29"].status is StepStatus.CANCELLED


def test_async_step_timeout(tmp_path: Path) -> None:
    k = make_kernel(tmp_path)
    plan = plan_of({"id": "s", "skill": "slow", "inputs": {"seconds": 30}, "timeout_s": 0.1})
    result = _run(k, plan)
    assert result.status is RunStatus.FAILED
    st = k.load(result.run_id).steps["s"]
    assert st.failure is not None and st.failure.type == "StepTimeout"


def test_blocking_process_step_is_killed_at_its_deadline(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    k = make_kernel(tmp_path)
    plan = plan_of(
        {
            "id": "b",
            "skill": "block_forever",
            "inputs": {"pid_file": str(pid_file)},
            "timeout_s": 0.5,
        },
        {"id": "after", "skill": "noop", "depends_on": ["b"]},
        {"id": "indep", "skill": "noop"},
    )
    result = _run(k, plan)
    assert result.status is RunStatus.FAILED
    st = k.load(result.run_id).steps
    assert st["b"].failure is not None and st["b"].failure.type == "StepTimeout"
    assert st["after"].status is StepStatus.SKIPPED
    assert st["indep"].status is StepStatus.COMMITTED
    pid = int(pid_file.read_text())
    assert pid != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the child is gone and reaped, not a zombie


def test_cancel_a_live_run(tmp_path: Path) -> None:
    k = make_kernel(tmp_path)
    plan = plan_of(
        {"id": "a", "skill": "noop"},
        {"id": "s", "skill": "slow", "inputs": {"seconds": 30}},
        {"id": "after", "skill": "noop", "depends_on": ["s"]},
    )

    async def go() -> Any:
        handle = await k.start(plan=plan)
        while k.load(handle.run_id).steps["s"].status is not StepStatus.RUNNING:
            await asyncio.sleep(0.01)
        return await k.cancel(handle.run_id, "stop it")

    result = asyncio.run(go())
    assert result.status is RunStatus.CANCELLED
    assert result.reason == "stop it"
    st = k.load(result.run_id).steps
    assert st["a"].status is StepStatus.COMMITTED
    assert st["s"].status is StepStatus.CANCELLED
    assert st["after"].status is StepStatus.CANCELLED


def test_fork_reuses_committed_steps_and_reruns_the_rest(tmp_path: Path) -> None:
    k = make_kernel(tmp_path)
    plan = plan_of(
        {"id": "a", "skill": "noop", "inputs": {"x": 1}},
        {"id": "b", "skill": "noop", "inputs": {"x": 2, "up": {"$ref": "a.output.value"}}},
        {"id": "c", "skill": "noop", "inputs": {"up": {"$ref": "b.output.value"}}},
    )
    first = _run(k, plan)

    async def go() -> Any:
        return await (await k.fork(first.run_id, from_step="b", inputs={"x": 7})).wait()

    forked = asyncio.run(go())
    assert forked.status is RunStatus.COMPLETED
    assert forked.run_id != first.run_id
    assert forked.outputs["a"] == first.outputs["a"]
    assert forked.outputs["b"] != first.outputs["b"]
    assert forked.outputs["c"] != first.outputs["c"]
    state = k.load(forked.run_id)
    assert state.parent == {"run_id": first.run_id, "from_step": "b"}
    ran = {
        r.step
        for r in k.store.read(forked.run_id).records
        if r.type is RecordType.STEP and r.data["status"] == "RUNNING"
    }
    assert ran == {"b", "c"}  # 'a' was inherited, not re-run


def test_resume_of_a_finished_run_is_refused(tmp_path: Path) -> None:
    from sgr_kernel.errors import RunNotFoundError, SgrUsageError

    k = make_kernel(tmp_path, run=RunConfig())
    done = _run(k, plan_of({"id": "a", "skill": "noop"}))
    with pytest.raises(SgrUsageError, match="nothing to resume"):
        asyncio.run(k.resume(done.run_id))
    with pytest.raises(RunNotFoundError):
        asyncio.run(k.resume("r-nope"))
