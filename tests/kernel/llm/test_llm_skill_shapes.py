"""Skill shapes: a skill's cues on the task's words offer its shape; the model writes only its
inputs, which are grounded in the user's words, and the kernel wires the plan.

A real ``Skill`` subclass stands in for a heavy skill (the kernel's tests do not import
``sgr_skills``); its catalogue entry, the planner's schema, the local grammar and the engine's
own plan validation are the real ones.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.errors import PlanValidationError
from sgr_kernel.graph.dag import validate_plan
from sgr_kernel.llm.plan_grammar import strip_annotations
from sgr_kernel.llm.planner import plan_task, planner_output_model, planner_schema, to_plan
from sgr_kernel.llm.planner_prompt import planner_messages
from sgr_kernel.llm.schema_guided import parse_output
from sgr_kernel.llm.scripted import ScriptedLLM
from sgr_kernel.llm.skill_shapes import asks_for_more, cued_skills, skill_shape_for_task
from sgr_kernel.models.plan import Plan
from sgr_kernel.skills.base import CAP_LLM, CAP_REMOTE, Skill, SkillContext


class Synthetic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["synthetic"] = "synthetic"
    days: int = Field(500, ge=30, le=5000, description="Trading days.")


class FileData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["file"] = "file"
    path: str = Field(min_length=1, description="Path of a .csv file.")


class SweepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strategy: Literal["momentum", "mean_reversion"] = Field(description="The strategy.")
    data: Annotated[Synthetic | FileData, Field(discriminator="kind")] = Field(
        default_factory=Synthetic, description="Prices."
    )
    grid: dict[str, list[float]] | None = Field(None, description="Values to sweep.")
    walk_forward: int = Field(0, ge=0, le=10, description="Walk-forward folds.")
    timeout_s: float = Field(60, gt=0, le=600, description="Deadline per job.")


class Best(BaseModel):
    sharpe: float


class SweepOut(BaseModel):
    best: Best
    cells: int
    table: list[dict[str, Any]]
    artifacts: list[dict[str, Any]]


class SweepSkill(Skill):
    name = "sweep"
    description = "Backtest a strategy over a grid of its parameters."
    Input = SweepIn
    Output = SweepOut
    capabilities = frozenset({CAP_REMOTE})
    cues = (r"\bback-?test", r"\bsweep\b.{0,60}\bstrateg", r"([")  # the last one is broken

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        raise NotImplementedError


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000)
    context: str | None = None


class AskOut(BaseModel):
    text: str


class AnswerSkill(Skill):
    name = "answer"
    description = "Answer a question with the language model."
    Input = AskIn
    Output = AskOut
    capabilities = frozenset({CAP_LLM})

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        raise NotImplementedError


SKILLS: dict[str, type[Skill]] = {"answer": AnswerSkill, "sweep": SweepSkill}
CATALOGUE = [SKILLS[n].catalogue_entry() for n in sorted(SKILLS)]


def _validate(plan: Plan) -> list[str]:
    return validate_plan(plan, SKILLS)  # default grants: no `remote`


def test_the_entry_carries_cues_capabilities_and_result_fields_only_when_cued() -> None:
    sweep = SweepSkill.catalogue_entry()
    assert sweep["cues"] == list(SweepSkill.cues)
    assert sweep["capabilities"] == ["remote"]
    assert sweep["result_fields"] == ["best", "cells"]  # not the table, not the artifacts
    assert "cues" not in AnswerSkill.catalogue_entry()


@pytest.mark.parametrize(
    ("task", "cued"),
    [
        ("Backtest momentum on synthetic prices.", ["sweep"]),
        ("Sweep the parameters of a mean reversion strategy.", ["sweep"]),
        ("Please backtest my strategy on prices.csv.", ["sweep"]),
        ("Explain what a backtest is.", []),  # a question about it, no material of its own
        ("What is a backtest? Use my prices.csv to show one.", ["sweep"]),  # own material
        ("Write a poem about the sea.", []),
    ],
)
def test_cues_match_the_users_words_and_not_a_question_about_them(
    task: str, cued: list[str]
) -> None:
    assert cued_skills(task, CATALOGUE) == cued


def test_a_cued_task_is_offered_the_skill_shape_and_steps_only_when_it_asks_for_more() -> None:
    one = "Backtest momentum on synthetic prices and tell me which is best."
    assert skill_shape_for_task(one, CATALOGUE) == "sweep"
    assert not asks_for_more(one, CATALOGUE)  # an explanation is part of the shape
    schema = planner_output_model(CATALOGUE, task=one).model_json_schema()
    assert schema["properties"]["shape"]["const"] == "sweep"
    more = "Backtest momentum on synthetic prices, then write a poem about it."
    assert asks_for_more(more, CATALOGUE)
    assert asks_for_more("Backtest momentum with Python code.", CATALOGUE)
    shapes = planner_output_model(CATALOGUE, task=more).model_json_schema()
    assert shapes["properties"]["shape"]["enum"] == ["sweep", "steps"]
    # A task no cue matches is planned exactly as before: no `inputs`, the layout fields.
    plain = planner_output_model(CATALOGUE, task="Write a poem about the sea.")
    assert set(plain.model_fields) == {"shape", "before", "after", "steps"}


def test_the_model_is_asked_only_for_the_inputs_the_task_can_give() -> None:
    task = "Backtest momentum on my file prices.csv with 3 walk-forward folds."
    out = planner_output_model(CATALOGUE, task=task)
    schema = planner_schema(out, CATALOGUE, task)
    inputs = schema["properties"]["inputs"]
    # required, named by the task (walk-forward), takes a file (the task names one)
    assert list(inputs["properties"]) == ["strategy", "data", "walk_forward"]
    assert inputs["properties"]["strategy"]["enum"] == ["momentum", "mean_reversion"]
    assert {"type": "null"} in inputs["properties"]["walk_forward"]["anyOf"]  # null: default
    assert schema["properties"]["shape"]["enum"] == ["sweep"]
    # A server is sent a plain object at the root (strict modes refuse a choice there).
    sent = strip_annotations(schema)
    assert sent["type"] == "object" and "x-sgr-plain" not in json.dumps(sent)
    # Messages name the skill and never show a `steps` example the model would copy.
    system = planner_messages(task, CATALOGUE)
    assert "sweep" in system[0].content and len(system) == 2


def _plan(task: str, reply: dict[str, Any]) -> tuple[Plan | None, list[str]]:
    out_cls = planner_output_model(CATALOGUE, task=task)
    value, problems = parse_output(out_cls, json.dumps(reply))
    assert value is not None, problems
    return to_plan(value, CATALOGUE, name=task, task=task)


def test_made_up_values_are_dropped_and_the_users_file_is_wired() -> None:
    task = "Backtest momentum on my file prices.csv with 3 walk-forward folds."
    reply = {
        "shape": "sweep",
        "inputs": {
            "strategy": "momentum",
            "data": {"kind": "file", "path": "/data/made-up.csv"},  # not the user's file
            "walk_forward": 3,  # named and stated: kept
            "timeout_s": 1,  # never mentioned: dropped (the default applies)
        },
    }
    plan, problems = _plan(task, reply)
    assert plan is not None and problems == []
    (step,) = plan.steps
    assert step.inputs == {
        "strategy": "momentum",
        "data": {"kind": "file", "path": "prices.csv"},
        "walk_forward": 3,
    }
    assert list(step.capabilities) == ["remote"]  # asked by the shape; `network` never is
    assert _validate(plan) == []  # the engine's own validation, default grants


def test_an_explaining_task_gets_an_answer_step_that_reads_the_result() -> None:
    task = "Backtest momentum on synthetic prices and tell me which grid cell is best."
    plan, problems = _plan(task, {"shape": "sweep", "inputs": {"strategy": "momentum"}})
    assert plan is not None and problems == [] and _validate(plan) == []
    first, second = plan.steps
    assert first.skill == "sweep" and first.inputs == {"strategy": "momentum"}
    assert second.skill == "answer" and list(second.depends_on) == ["s1"]
    assert "${s1.output.best}" in second.inputs["context"]
    assert "${s1.output.table}" not in second.inputs["context"]


def test_a_grid_is_kept_only_when_the_task_states_every_value() -> None:
    stated = "Sweep a momentum strategy over lookback 10, 20 and 40 on synthetic prices."
    grid = {"lookback": [10, 20, 40]}
    plan, _ = _plan(stated, {"shape": "sweep", "inputs": {"strategy": "momentum", "grid": grid}})
    assert plan is not None and plan.steps[0].inputs["grid"] == grid
    made_up = {"lookback": [10, 20, 99]}
    plan, _ = _plan(stated, {"shape": "sweep", "inputs": {"strategy": "momentum", "grid": made_up}})
    assert plan is not None and "grid" not in plan.steps[0].inputs


def test_an_out_of_bounds_setting_falls_back_to_its_default() -> None:
    task = "Backtest momentum on synthetic prices with 50 walk-forward folds."
    reply = {"shape": "sweep", "inputs": {"strategy": "momentum", "walk_forward": 50}}
    plan, problems = _plan(task, reply)
    assert plan is not None and problems == []
    assert plan.steps[0].inputs == {"strategy": "momentum"}  # le=10: not a valid value


def test_a_bad_required_input_is_refused_at_planning_and_the_planner_asks_again() -> None:
    # A server's model is not held by the local grammar: it may write any strategy.
    task = "Backtest a buy-and-hold strategy on synthetic prices."
    bad = {"shape": "sweep", "inputs": {"strategy": "buy_and_hold"}}
    good = {"shape": "sweep", "inputs": {"strategy": "momentum"}}
    llm = ScriptedLLM([json.dumps(bad), json.dumps(good)])
    plan = asyncio.run(plan_task(llm.complete, task, CATALOGUE, validate=_validate))
    assert plan.steps[0].inputs == {"strategy": "momentum"}
    fed_back = llm.requests[1].messages[-1].content
    assert "input 'strategy' is invalid" in fed_back and "momentum" in fed_back
    # Still bad after the last round: one clear error, nothing planned.
    llm = ScriptedLLM([json.dumps(bad)] * 3)
    with pytest.raises(PlanValidationError, match="strategy"):
        asyncio.run(plan_task(llm.complete, task, CATALOGUE, validate=_validate, max_replans=2))


@pytest.mark.local_model
def test_the_local_grammar_admits_only_the_skill_shape_and_its_inputs() -> None:
    from sgr_kernel.llm._gbnf import grammar_for_schema

    task = "Backtest momentum on my file prices.csv."
    out = planner_output_model(CATALOGUE, task=task)
    gbnf = grammar_for_schema(planner_schema(out, CATALOGUE, task), max_string_length=200)
    assert '"\\"sweep\\""' in gbnf and '"\\"steps\\""' not in gbnf
    assert '"\\"momentum\\""' in gbnf and '"\\"timeout_s\\""' not in gbnf


def test_a_choice_the_task_spells_and_a_garbled_question_are_the_users_words() -> None:
    task = "Backtest a mean reversion strategy on synthetic prices."
    plan, _ = _plan(task, {"shape": "sweep", "inputs": {"strategy": "momentum"}})
    assert plan is not None and plan.steps[0].inputs["strategy"] == "mean_reversion"
    ask = "Backtest momentum on synthetic prices, then answer: which cell wins?"
    from sgr_kernel.llm.grounding import wire_words

    schema = {
        "type": "object",
        "properties": {"question": {"type": "string"}},
        "required": ["question"],
    }
    assert wire_words({"question": "zq xxyy 2019 foo.com"}, schema, ask) == {"question": ask}
    kept = "Which momentum cell wins the backtest?"
    assert wire_words({"question": kept}, schema, ask) == {"question": kept}


def test_records_the_model_composes_keep_their_text_and_lose_made_up_numbers() -> None:
    from sgr_kernel.llm.grounding import ground_inputs

    chart = {
        "type": "object",
        "properties": {
            "labels": {"type": "array", "items": {"type": "string"}},
            "values": {"type": "array", "items": {"type": "number"}},
        },
        "required": ["labels", "values"],
    }
    scene = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "bullets": {"type": "array", "items": {"type": "string"}},
            "chart": {"anyOf": [chart, {"type": "null"}]},
            "seconds": {"type": "number", "minimum": 1},
        },
        "required": ["title"],
    }
    schema = {
        "type": "object",
        "properties": {"scenes": {"type": "array", "items": scene}},
        "required": ["scenes"],
    }
    task = "Make a video with a chart of sales 3, 5 and 8 for Q1 to Q3."
    made_up = {"labels": ["a"], "values": [1.0]}  # "Q1" states no number 1
    stated = {"labels": ["Q1", "Q2", "Q3"], "values": [3, 5, 8]}
    value = {
        "scenes": [
            {"title": "Intro", "bullets": ["Our year"], "chart": made_up, "seconds": 7},
            {"title": "Sales", "chart": stated},
        ]
    }
    assert ground_inputs(value, schema, task) == {
        "scenes": [{"title": "Intro", "bullets": ["Our year"]}, {"title": "Sales", "chart": stated}]
    }


def test_a_chart_the_task_gives_numbers_for_plots_the_users_numbers() -> None:
    """The model wrote a chart with the right number of values but not the user's: the task's
    numbers, in its order, take their place (one list, or one named series). Through the real
    ``video_render`` skill's input schema and the skill shape's own expansion."""
    from sgr_kernel.llm.skill_shapes import expand_skill_shape
    from sgr_skills.video import VideoRenderSkill
    from sgr_skills.video._models import VideoInput

    entry = VideoRenderSkill.catalogue_entry()
    task = "Make a short video with a bar chart of sales 3, 5 and 8.5 for Q1 to Q3."

    def planned(series: dict[str, list[float]]) -> Any:
        scene = {
            "title": "Sales",
            "layout": "bar",
            "data": {"labels": ["Q1", "Q2", "Q3"], "series": series},
        }
        inputs = {"storyboard": {"title": "Sales", "scenes": [scene]}}
        (step,) = expand_skill_shape(entry, False, inputs, task)
        return step["inputs"]["storyboard"]["scenes"][0].get("data")

    got = planned({"sales": [10, 20, 30]})
    assert got == {"labels": ["Q1", "Q2", "Q3"], "series": {"sales": [3, 5, 8.5]}}
    VideoInput.model_validate(  # the grounded storyboard is one the skill accepts
        {
            "storyboard": {
                "title": "Sales",
                "scenes": [{"title": "Sales", "layout": "bar", "data": got}],
            }
        }
    )
    assert planned({"sales": [3, 5, 8.5]})["series"] == {"sales": [3, 5, 8.5]}  # already theirs
    assert planned({"sales": [1, 2]}) is None  # not as many: nothing to put there, dropped
    assert planned({"a": [1, 2, 4], "b": [2, 3, 4]}) is None  # two series: whose numbers?
