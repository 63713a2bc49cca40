"""Truthful outcomes and streamed tokens, through a real kernel and a real HTTP endpoint.

- an ``answer`` step whose model answer is empty or whitespace fails that attempt (retried),
  is never committed, and a run whose answers stay empty FAILS;
- a ``format`` step that refers to no earlier output in a multi-step plan is a planning error;
- the plan's and the answer's tokens reach the caller live as ``token`` events (SSE from
  the server), and strict replay makes zero calls and reproduces the final text.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from sgr_kernel.engine.base import RunConfig
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.errors import PlanValidationError
from sgr_kernel.graph.dag import validate_plan
from sgr_kernel.llm.config import LLMSettings
from sgr_kernel.llm.openai_compat import OpenAICompatLLM
from sgr_kernel.llm.planner import plan_task
from sgr_kernel.llm.scripted import ScriptedLLM
from sgr_kernel.models.plan import Plan
from sgr_kernel.models.status import RunStatus
from sgr_kernel.testing.openai_server import OpenAITestServer, Reply
from sgr_kernel.trace.base import Record, RecordType
from sgr_skills.answer import AnswerSkill
from sgr_skills.format import FormatSkill

SKILLS = {"answer": AnswerSkill, "format": FormatSkill}
SHAPE_ANSWER = {"shape": "answer", "before": None, "after": None, "steps": None}


def _answer(text: str) -> Reply:
    return Reply.json({"reasoning": "The capital of France is Paris.", "answer": text})


def _kernel(home: Path, srv: OpenAITestServer) -> Kernel:
    settings = LLMSettings(provider="openai_compat", base_url=srv.base_url, model="test-model")
    config = KernelConfig(home=home, run=RunConfig(approval_mode="auto"))
    return Kernel(config, skills=SKILLS, llm=OpenAICompatLLM(settings))


def _run(kernel: Kernel, task: str, events: list[Record] | None = None) -> Any:
    async def go() -> Any:
        handle = await kernel.start(task=task)
        if events is not None:
            handle.subscribe(events.append)
        return await handle.wait()

    return asyncio.run(go())


def test_an_empty_answer_is_retried_never_committed(tmp_path: Path) -> None:
    with OpenAITestServer([Reply.json(SHAPE_ANSWER), _answer("   "), _answer("Paris")]) as srv:
        kernel = _kernel(tmp_path, srv)
        result = _run(kernel, "What is the capital of France?")
        assert result.status is RunStatus.COMPLETED
        assert result.outputs["s1"] == {"text": "Paris"}
        view = kernel.show(result.run_id)
        (step,) = [s for s in view.steps if s.id == "s1"]
        assert step.attempts == 2  # the empty answer failed its attempt
        print(
            f"FIGURE empty_answer attempts={step.attempts} "
            f"committed_text={result.outputs['s1']['text']!r}"
        )


def test_answers_that_stay_empty_fail_the_run(tmp_path: Path) -> None:
    replies = [Reply.json(SHAPE_ANSWER)] + [_answer("") for _ in range(3)] + [_answer(" \n ")] * 9
    with OpenAITestServer(replies, default=_answer("\t")) as srv:
        result = _run(_kernel(tmp_path, srv), "What is the capital of France?")
        assert result.status is RunStatus.FAILED
        assert "s1" not in result.outputs  # nothing committed
        assert "answered" in (result.reason or "") or result.reason


def test_format_without_reference_in_a_multi_step_plan_is_a_planning_error() -> None:
    catalogue = [AnswerSkill.catalogue_entry(), FormatSkill.catalogue_entry()]
    made_up = {
        "steps": [
            {"skill": "answer", "inputs": {"question": "Who wrote Emma?", "context": None}},
            {"skill": "format", "inputs": {"template": "Author: Jane Austen"}},
        ]
    }
    wired = {
        "steps": [
            made_up["steps"][0],
            {"skill": "format", "inputs": {"template": "Author: ${s1.output.text}"}},
        ]
    }
    llm = ScriptedLLM([made_up, made_up, made_up])
    with pytest.raises(PlanValidationError) as err:
        asyncio.run(plan_task(llm.complete, "Who wrote Emma?", catalogue, validate=lambda p: []))
    assert any("s2" in p and "made up" in p for p in err.value.problems)
    plan = asyncio.run(
        plan_task(ScriptedLLM([wired]).complete, "t", catalogue, validate=lambda p: [])
    )
    assert [s.skill for s in plan.steps] == ["answer", "format"]
    # A plan a person wrote may start from constant text: not held to the planner's rule.
    seeded = Plan.model_validate(
        {
            "steps": [
                {"id": "a", "skill": "format", "inputs": {"template": "one"}},
                {"id": "b", "skill": "format", "inputs": {"template": "${a.output.text} two"}},
            ]
        }
    )
    assert validate_plan(seeded, SKILLS) == []


def test_plan_and_answer_stream_tokens_and_replay_reproduces_them(tmp_path: Path) -> None:
    answer = "Paris is the capital of France and its largest city"
    with OpenAITestServer([Reply.json(SHAPE_ANSWER), _answer(answer)]) as srv:
        kernel = _kernel(tmp_path, srv)
        events: list[Record] = []
        result = _run(kernel, "What is the capital of France?", events)
        assert result.status is RunStatus.COMPLETED
        assert all(b.get("stream") is True for b in srv.chat_requests)  # SSE, every call
    tokens: dict[str, list[str]] = {}
    for rec in events:
        if rec.type is RecordType.EVENT and rec.data.get("kind") == "token":
            tokens.setdefault(str(rec.step), []).append(rec.data["text"])
    assert set(tokens) == {"__plan__", "s1"}
    assert json.loads("".join(tokens["__plan__"]))["shape"] == "answer"
    assert json.loads("".join(tokens["s1"]))["answer"] == answer
    assert len(tokens["s1"]) > 5  # piece by piece, not one blob
    report = asyncio.run(kernel.replay(result.run_id))
    assert report.ok and report.live_calls == 0
    assert kernel.show(result.run_id).status is RunStatus.COMPLETED
    print(
        f"FIGURE streaming plan_chunks={len(tokens['__plan__'])} answer_chunks={len(tokens['s1'])} "
        f"replay_live_calls={report.live_calls}"
    )
