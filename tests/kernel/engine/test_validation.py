"""Validation before running: one error lists every problem, and nothing is written or run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from services_for_tests import read_sink
from skills_for_tests import TEST_SKILLS, AnyIn, ValueOut, make_kernel, plan_of

from sgr_kernel.errors import PlanValidationError
from sgr_kernel.models.plan import parse_plan
from sgr_kernel.skills.base import Estimate, Skill


def _problems(tmp_path: Path, plan: object, **kw: object) -> list[str]:
    k = make_kernel(tmp_path, **kw)  # type: ignore[arg-type]
    with pytest.raises(PlanValidationError) as info:
        asyncio.run(k.run(plan=plan))
    assert k.store.list_runs() == [], "an invalid plan must not create a run"
    assert read_sink(tmp_path / "sink.log") == []
    return list(info.value.problems)


def test_every_problem_listed_and_nothing_runs(tmp_path: Path) -> None:
    plan = plan_of(
        {"id": "a", "skill": "nope"},
        {"id": "b", "skill": "noop", "depends_on": ["ghost"]},
        {"id": "c", "skill": "noop", "inputs": {"x": {"$ref": "missing.output.value"}}},
        {"id": "d", "skill": "noop", "inputs": {"x": "not an int"}},
        {"id": "e", "skill": "remote_effect"},  # needs 'remote', not granted
        {"id": "f", "skill": "noop", "inputs": {"x": {"$ref": "b.output.nofield"}}},
    )
    problems = _problems(tmp_path, plan)
    text = "\n".join(problems)
    assert "unknown skill 'nope'" in text
    assert "unknown step 'ghost'" in text
    assert "unknown step 'missing'" in text
    assert "input 'x' is invalid" in text
    assert "capability remote" in text
    assert "no output 'nofield'" in text
    assert len(problems) >= 6


def test_cycle_is_reported(tmp_path: Path) -> None:
    plan = plan_of(
        {"id": "a", "skill": "noop", "depends_on": ["c"]},
        {"id": "b", "skill": "noop", "inputs": {"x": {"$ref": "a.output.value"}}},
        {"id": "c", "skill": "noop", "depends_on": ["b"]},
    )
    problems = _problems(tmp_path, plan)
    assert any("cycle" in p for p in problems), problems


def test_budget_estimate_over_limit(tmp_path: Path) -> None:
    class Pricey(Skill):
        name = "pricey"
        description = "Estimates a large model spend."
        Input = AnyIn
        Output = ValueOut

        def estimate(self, inputs: dict[str, object]) -> Estimate:
            return Estimate(tokens=10_000, llm_calls=3, cost_usd=1.0)

        async def run(self, ctx: Any, inputs: Any) -> ValueOut:
            raise AssertionError("must not run")

    plan = plan_of(
        {"id": "a", "skill": "pricey"},
        {"id": "b", "skill": "pricey"},
        budget={"max_tokens": 5_000, "max_llm_calls": 2, "max_cost_usd": 0.5, "max_steps": 1},
    )
    problems = _problems(tmp_path, plan, skills={**TEST_SKILLS, "pricey": Pricey})
    text = "\n".join(problems)
    for what in ("tokens", "llm_calls", "cost_usd"):
        assert f"estimated {what}" in text, text
    assert "budget allows 1" in text


def test_malformed_plan_text_names_the_problem() -> None:
    from sgr_kernel.errors import PlanParseError

    with pytest.raises(PlanParseError, match="line"):
        parse_plan("steps: [\n  - id: a\n   skill: x", source="p.yaml")
    with pytest.raises(PlanValidationError):
        parse_plan("steps: []")


def test_field_constraints_are_checked_before_running(tmp_path: Path) -> None:
    """A value of the right type that breaks its field's bounds (``ge``, ``max_length``) is a
    validation problem up front, not a failure once the step starts."""
    from pydantic import BaseModel, Field

    class Bounded(BaseModel):
        n: int = Field(1, ge=1, le=10)
        name: str = Field("x", max_length=3)

    class BoundedSkill(Skill):
        name = "bounded"
        description = "takes bounded inputs"
        Input = Bounded
        Output = ValueOut

        async def run(self, ctx: Any, inputs: Any) -> ValueOut:
            return ValueOut(value=inputs.n)

    plan = plan_of({"id": "a", "skill": "bounded", "inputs": {"n": 11, "name": "long"}})
    problems = _problems(tmp_path, plan, skills={**TEST_SKILLS, "bounded": BoundedSkill})
    assert any("input 'n' is invalid" in p and "10" in p for p in problems), problems
    assert any("input 'name' is invalid" in p for p in problems), problems
