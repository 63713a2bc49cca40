"""Plan validation lists every problem; the DAG follows references."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import BaseModel

from sgr_kernel.errors import PlanValidationError
from sgr_kernel.graph.dag import build_dag, check_plan, validate_plan
from sgr_kernel.models import BudgetPolicy, parse_plan
from sgr_kernel.skills.base import CAP_NETWORK, Estimate, Skill, SkillContext


class _In(BaseModel):
    text: str
    count: int = 1


class _Out(BaseModel):
    text: str


class Echo(Skill):
    name = "echo"
    description = "echo"
    Input = _In
    Output = _Out

    async def run(self, ctx: SkillContext, inputs: _In) -> _Out:
        return _Out(text=inputs.text)


class Fetch(Echo):
    name = "fetch"
    capabilities: ClassVar[frozenset[str]] = frozenset({CAP_NETWORK})

    def estimate(self, inputs: dict[str, object]) -> Estimate:
        return Estimate(tokens=1000, llm_calls=1)


SKILLS: dict[str, type[Skill]] = {"echo": Echo, "fetch": Fetch}


def test_every_problem_is_listed_at_once() -> None:
    plan = parse_plan(
        """
steps:
  - {id: a, skill: nope}
  - {id: b, skill: echo, depends_on: [ghost], inputs: {text: "${a.output.text}"}}
  - {id: c, skill: echo, inputs: {text: 5, bogus: 1}}
  - {id: d, skill: echo, inputs: {text: "${b.output.missing}"}}
  - {id: e, skill: fetch, inputs: {text: x}}
  - {id: f, skill: echo, inputs: {}}
  - {id: g, skill: echo, inputs: {text: "${h.output.text}"}}
  - {id: h, skill: echo, inputs: {text: "${g.output.text}"}}
"""
    )
    problems = validate_plan(plan, SKILLS)
    text = "\n".join(problems)
    for needle in (
        "unknown skill 'nope'",
        "unknown step 'ghost'",
        "input 'text' is invalid",
        "has no input 'bogus'",
        "has no output 'missing'",
        "needs capability network",
        "needs input 'text'",
        "cycle: ",
    ):
        assert needle in text, f"{needle!r} not in:\n{text}"
    with pytest.raises(PlanValidationError):
        check_plan(plan, SKILLS)


def test_budget_estimate_and_grants() -> None:
    plan = parse_plan("steps: [{id: a, skill: fetch, capabilities: [network], inputs: {text: x}}]")
    assert validate_plan(plan, SKILLS) == []
    over = validate_plan(plan, SKILLS, budget=BudgetPolicy(max_tokens=10, max_steps=0))
    assert any("estimated tokens" in p for p in over)
    assert any("budget allows 0" in p for p in over)


def test_references_imply_edges_and_order_is_topological() -> None:
    plan = parse_plan(
        """
steps:
  - {id: z, skill: echo, inputs: {text: "${y.output.text}"}}
  - {id: y, skill: echo, inputs: {text: "${x.output.text}"}}
  - {id: x, skill: echo, inputs: {text: go}}
  - {id: w, skill: echo, depends_on: [x], inputs: {text: w}}
"""
    )
    dag = build_dag(plan)
    assert dag.order == ("x", "y", "z", "w")
    assert dag.parents["z"] == frozenset({"y"})
    assert dag.descendants("x") == {"y", "z", "w"}
