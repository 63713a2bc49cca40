"""A task whose planning fails ends FAILED, and its replay reaches the same end from the
recorded model answers, with no live call."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sgr_kernel.engine import Kernel, KernelConfig, RunResult
from sgr_kernel.llm.scripted import ScriptedLLM
from sgr_kernel.models import RunStatus
from sgr_kernel.replay import ReplayReport

BAD_PLAN = {"steps": [{"skill": "format", "inputs": {"template": "${f}"}}]}
GOOD_PLAN = {"steps": [{"skill": "format", "inputs": {"template": "hello"}}]}


def test_failed_planning_replays_as_failed(tmp_path: Path) -> None:
    llm = ScriptedLLM([BAD_PLAN, BAD_PLAN, BAD_PLAN])

    async def go() -> tuple[Kernel, RunResult, ReplayReport]:
        k = Kernel(KernelConfig(home=tmp_path), llm=llm)
        result = await k.run(task="say hello")
        return k, result, await k.replay(result.run_id)

    _, result, report = asyncio.run(go())
    assert result.status is RunStatus.FAILED
    assert "PlanValidationError" in (result.reason or "")
    assert len(llm.requests) == 3  # the first plan and two replans
    assert report.ok and report.replayed_status is RunStatus.FAILED, report


def test_planning_then_running_replays(tmp_path: Path) -> None:
    llm = ScriptedLLM([BAD_PLAN, GOOD_PLAN])

    async def go() -> tuple[RunResult, ReplayReport]:
        k = Kernel(KernelConfig(home=tmp_path), llm=llm)
        result = await k.run(task="say hello")
        return result, await k.replay(result.run_id)

    result, report = asyncio.run(go())
    assert result.status is RunStatus.COMPLETED
    assert result.outputs == {"s1": {"text": "hello"}}
    assert report.ok and report.steps_replayed == 1, report
