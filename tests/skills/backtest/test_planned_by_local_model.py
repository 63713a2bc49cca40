"""A backtest task in the user's words, planned by the embedded SmolLM2-135M, runs
``backtest_sweep`` on the inline dispatcher and answers from its result.

Skipped only when ``llama_cpp`` is not importable and ``CI`` is unset; under ``CI=true`` a
missing local model is a failure (``make test`` installs it).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from sgr_kernel.dispatch.inline import InlineDispatcher
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.llm.base import LLMRequest, LLMResponse, TokenCallback
from sgr_kernel.llm.config import LLMSettings, make_client
from sgr_kernel.models.status import RunStatus
from sgr_skills.answer import AnswerSkill
from sgr_skills.backtest import BacktestSweepSkill

pytestmark = [pytest.mark.slow, pytest.mark.local_model]
TASK = (
    "Backtest a momentum strategy on synthetic prices and tell me which parameters have the "
    "best Sharpe ratio."
)


class Recording:
    """The embedded model, with every request kept (to see what the answer step was given)."""

    def __init__(self) -> None:
        self.inner = make_client(LLMSettings())  # nothing configured: the embedded model
        self.name = self.inner.name
        self.model = getattr(self.inner, "model", "local")
        self.requests: list[LLMRequest] = []

    async def complete(
        self, request: LLMRequest, *, on_token: TokenCallback | None = None
    ) -> LLMResponse:
        self.requests.append(request)
        return await self.inner.complete(request, on_token=on_token)


def test_a_backtest_task_plans_runs_the_sweep_and_answers_from_its_result(
    tmp_path: Path,
) -> None:
    llm = Recording()
    assert llm.name == "local"
    skills = {"answer": AnswerSkill, "backtest_sweep": BacktestSweepSkill}
    dispatcher = InlineDispatcher()
    kernel = Kernel(KernelConfig(home=tmp_path), skills=skills, llm=llm, dispatcher=dispatcher)

    async def go() -> tuple[object, object, object, int, int]:
        handle = await kernel.start(task=TASK)  # default grants: the shape asks for `remote`
        result = await handle.wait()
        calls, jobs = len(llm.requests), dispatcher.submitted
        report = await kernel.replay(result.run_id, strict=True)
        return handle, result, report, len(llm.requests) - calls, dispatcher.submitted - jobs

    handle, result, report, replay_calls, replay_jobs = asyncio.run(go())
    plan = handle.state.plan  # type: ignore[attr-defined]
    assert plan is not None
    steps = [(s.skill, dict(s.inputs), list(s.capabilities)) for s in plan.steps]
    print(f"FIGURE planned_backtest steps={[s[0] for s in steps]} inputs={steps[0][1]}")
    assert steps[0] == ("backtest_sweep", {"strategy": "momentum"}, ["remote"])
    assert steps[1][0] == "answer" and "${s1.output.best}" in steps[1][1]["context"]
    assert result.status is RunStatus.COMPLETED, result  # type: ignore[attr-defined]

    outputs = result.outputs  # type: ignore[attr-defined]
    best = outputs["s1"]["best"]
    assert outputs["s1"]["strategy"] == "momentum" and outputs["s1"]["cells"] == 24
    assert best["rank"] == 1 and isinstance(best["sharpe"], float)
    # The answer step's model call was given the sweep's real best cell, not made-up numbers.
    answer_prompt = "\n".join(m.content for m in llm.requests[-1].messages)
    assert json.dumps(best, sort_keys=True) in answer_prompt
    assert outputs["s2"]["text"].strip()
    # One planning call: the shape left the model nothing to get wrong twice.
    planning = [r for r in llm.requests if r.schema_name == "PlannerOutput"]
    assert len(planning) == 1
    status = result.status.value  # type: ignore[attr-defined]
    print(f"FIGURE planned_backtest_run status={status} cells={outputs['s1']['cells']}")
    # Strict replay re-plans from the logged answer (the same plan) with no call and no job.
    assert report.ok and report.live_calls == 0, report  # type: ignore[attr-defined]
    assert replay_calls == 0 and replay_jobs == 0
    print(f"FIGURE planned_backtest_replay live_calls={replay_calls} jobs={replay_jobs}")
