"""The planner: catalogue-shaped schema, conversion to a Plan, bounded replanning."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel, Field

from sgr_kernel.errors import LLMInvalidOutput, PlanValidationError
from sgr_kernel.llm.planner import (
    MAX_CODE_CHARS,
    MAX_INPUT_CHARS,
    check_against_catalogue,
    plan_task,
    planner_messages,
    planner_output_model,
)
from sgr_kernel.llm.schema_guided import json_schema_for
from sgr_kernel.llm.scripted import ScriptedLLM
from sgr_kernel.llm.shapes import SHAPE_EXAMPLES
from sgr_kernel.models.plan import Plan
from sgr_kernel.models.policies import BudgetPolicy
from sgr_kernel.skills.base import Skill, SkillContext
from sgr_kernel.testing.planner_eval import EVAL_CATALOGUE, EVAL_TASKS, grade


class _TextOut(BaseModel):
    text: str


class AnswerSkill(Skill):
    name = "answer"
    description = "Answer a question."

    class Input(BaseModel):
        question: str = Field(description="What to answer.")
        context: str | None = None

    Output = _TextOut

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        return _TextOut(text="")


class RepeatSkill(Skill):
    name = "repeat"
    description = "Repeat a JSON payload n times."

    class Input(BaseModel):
        # The input is called "json": the planner's model must not shadow BaseModel.json.
        payload: dict[str, int] = Field(alias="json", description="The payload.")
        n: int = 2

    class Output(BaseModel):
        items: list[Any]
        count: int

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        raise NotImplementedError


CATALOGUE = [AnswerSkill.catalogue_entry(), RepeatSkill.catalogue_entry()]


def _no_problems(plan: Plan) -> list[str]:
    return []


def _step(skill: str, **inputs: Any) -> dict[str, Any]:
    return {"skill": skill, "inputs": inputs}


def _step_variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    # steps is nullable (a known shape needs none): the array branch holds the variants.
    (array,) = [b for b in schema["properties"]["steps"]["anyOf"] if b.get("type") == "array"]
    return list(array["items"]["anyOf"])


def test_output_schema_has_skill_enum_and_exact_input_names() -> None:
    schema = json_schema_for(planner_output_model(CATALOGUE))
    variants = _step_variants(schema)
    by_skill = {v["properties"]["skill"]["enum"][0]: v for v in variants}
    assert set(by_skill) == {"answer", "repeat"}
    repeat_inputs = by_skill["repeat"]["properties"]["inputs"]
    assert list(repeat_inputs["properties"]) == ["json", "n"]
    assert repeat_inputs["additionalProperties"] is False
    assert repeat_inputs["properties"]["json"]["maxLength"] <= MAX_INPUT_CHARS


def test_each_input_is_bounded_by_what_it_needs() -> None:
    # Code needs room (a 200-character cap cut programs off mid-line); prose stays short.
    schema = json_schema_for(planner_output_model(EVAL_CATALOGUE))
    variants = _step_variants(schema)
    by_skill = {v["properties"]["skill"]["enum"][0]: v["properties"]["inputs"] for v in variants}
    assert by_skill["python"]["properties"]["code"]["maxLength"] == MAX_CODE_CHARS
    question = by_skill["answer"]["properties"]["question"]
    assert question["maxLength"] == MAX_INPUT_CHARS < MAX_CODE_CHARS
    (array,) = [b for b in schema["properties"]["steps"]["anyOf"] if b.get("type") == "array"]
    assert array["maxItems"] >= 1


def test_plan_with_refs_typed_inputs_and_budget() -> None:
    reply = {
        "steps": [
            _step("repeat", json='{"a": 1}', n="3"),
            _step("answer", question="Summarise ${s1.output.items}", context=None),
        ]
    }
    llm = ScriptedLLM([reply])
    budget = BudgetPolicy(max_llm_calls=5)
    plan = asyncio.run(
        plan_task(
            llm.complete, "repeat and summarise", CATALOGUE, validate=_no_problems, budget=budget
        )
    )
    assert [s.id for s in plan.steps] == ["s1", "s2"]
    assert plan.steps[0].inputs == {"json": {"a": 1}, "n": 3}  # JSON inputs decoded
    assert plan.steps[1].inputs == {"question": "Summarise ${s1.output.items}"}  # nulls dropped
    assert plan.steps[1].depends_on == ("s1",)
    assert plan.budget == budget and plan.name == "repeat and summarise"
    assert llm.requests[0].messages[-1].content == "Task: repeat and summarise"


def test_broken_references_are_repaired_before_asking_again() -> None:
    # Forward, self and unknown-field references can only mean "an earlier output": the
    # planner rewrites them instead of spending a replanning round.
    broken = {
        "steps": [
            _step("answer", question="use ${s2.output.text} and ${s1.output.text}", context=None),
            _step("answer", question="${s1.output.nope}", context=None),
            _step("answer", question="${s3.output.text} and ${s9.output.text}", context=None),
        ]
    }
    llm = ScriptedLLM([broken])
    plan = asyncio.run(plan_task(llm.complete, "t", CATALOGUE, validate=_no_problems))
    questions = [s.inputs["question"] for s in plan.steps]
    assert questions == [
        "use  and ",
        "${s1.output.text}",
        "${s2.output.text} and ${s2.output.text}",
    ]
    assert [s.depends_on for s in plan.steps] == [(), ("s1",), ("s2",)]
    assert len(llm.requests) == 1  # no replanning round needed


def test_bad_refs_and_caller_problems_are_fed_back() -> None:
    malformed = {"steps": [_step("answer", question="use ${s1.nope}", context=None)]}
    good = {"steps": [_step("answer", question="hi", context=None)]}
    llm = ScriptedLLM([malformed, good, good])
    seen: list[Plan] = []

    def validate(plan: Plan) -> list[str]:
        seen.append(plan)
        return [] if len(seen) > 1 else ["step s1: the caller objects"]

    plan = asyncio.run(plan_task(llm.complete, "t", CATALOGUE, validate=validate, max_replans=2))
    assert len(plan.steps) == 1 and len(seen) == 2  # only reference-clean plans reach the caller
    second, third = llm.requests[1].messages[-1].content, llm.requests[2].messages[-1].content
    assert "malformed reference" in second
    assert "the caller objects" in third
    sampling = [(r.temperature, r.seed) for r in llm.requests]
    assert sampling == [(0.0, None), (0.7, 1), (0.7, 2)]  # replans sample, seeded per round


def test_still_invalid_after_replans_raises_with_every_problem() -> None:
    plan = {"steps": [_step("answer", question="q", context=None)]}
    llm = ScriptedLLM([plan, plan])

    def validate(p: Plan) -> list[str]:
        return ["capability 'network' not granted", "budget estimate over limit"]

    with pytest.raises(PlanValidationError) as err:
        asyncio.run(plan_task(llm.complete, "t", CATALOGUE, validate=validate, max_replans=1))
    assert err.value.problems == ["capability 'network' not granted", "budget estimate over limit"]
    assert len(llm.requests) == 2
    assert "budget estimate over limit" in llm.requests[1].messages[-1].content
    print(f"FIGURE planner_replan rounds={len(llm.requests)} raised=PlanValidationError")


def test_validate_may_raise_instead_of_returning() -> None:
    plan = {"steps": [_step("answer", question="q", context=None)]}
    llm = ScriptedLLM([plan])

    def validate(p: Plan) -> list[str]:
        raise PlanValidationError(["cycle s1 -> s1"])

    with pytest.raises(PlanValidationError, match="cycle"):
        asyncio.run(plan_task(llm.complete, "t", CATALOGUE, validate=validate, max_replans=0))


def test_schema_invalid_output_is_llm_invalid_output() -> None:
    unknown_skill = {"steps": [_step("launch_rockets", target="moon")]}
    llm = ScriptedLLM([unknown_skill, "{}", {"steps": []}])
    with pytest.raises(LLMInvalidOutput):
        asyncio.run(plan_task(llm.complete, "t", CATALOGUE, validate=_no_problems))
    assert "launch_rockets" in llm.requests[1].messages[-2].content


def test_few_shot_examples_fit_the_catalogue() -> None:
    msgs = planner_messages("do x", EVAL_CATALOGUE)
    assert msgs[0].role == "system" and "code_interpreter(task)" in msgs[0].content
    examples = [m for m in msgs if m.role == "assistant"]
    # The free plan, then the examples of the shapes "do x" allows (a direct answer).
    assert len(examples) == 1 + sum(1 for ex in SHAPE_EXAMPLES if ex[1] == "answer")
    output_cls = planner_output_model(EVAL_CATALOGUE, task="do x")
    for ex in examples:  # every example is itself a valid answer
        output_cls.model_validate(json.loads(ex.content))
    assert [m for m in planner_messages("x", CATALOGUE) if m.role == "assistant"] != []


def test_check_against_catalogue() -> None:
    plan = Plan.model_validate(
        {
            "steps": [
                {"id": "a", "skill": "answer", "inputs": {"question": "", "extra": 1}},
                {"id": "b", "skill": "ghost"},
            ]
        }
    )
    problems = check_against_catalogue(plan, CATALOGUE)
    assert problems == [
        "step a: answer has no input 'extra'",
        "step a: answer needs input 'question'",
        "step b: unknown skill 'ghost'; use one of ['answer', 'repeat']",
    ]


def test_eval_set_is_sound() -> None:
    assert len(EVAL_TASKS) >= 20
    names = {e["name"] for e in EVAL_CATALOGUE}
    for t in EVAL_TASKS:
        assert (t.skills | t.any_of) <= names, t.task
    good = Plan.model_validate(
        {
            "steps": [
                {"id": "s1", "skill": "answer", "inputs": {"question": "A haiku about rain"}},
                {"id": "s2", "skill": "format", "inputs": {"template": "Rain\n${s1.output.text}"}},
            ]
        }
    )
    haiku = next(t for t in EVAL_TASKS if "haiku" in t.task)
    assert grade(good, haiku) == []
    lone = Plan.model_validate({"steps": [good.steps[0]]})
    assert grade(lone, haiku) == ["no format step", "no step uses an earlier output"]
