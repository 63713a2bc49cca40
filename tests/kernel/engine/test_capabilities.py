"""A step uses only what its skill declares and the run (or the step) grants; unknown names
are refused before anything is written; the effective grants are what ``sgr show`` lists."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel
from skills_for_tests import TEST_SKILLS, Ask, AskIn, TextOut, make_kernel, plan_of

from sgr_kernel.cli import main
from sgr_kernel.engine import RunConfig
from sgr_kernel.errors import ConfigError, PlanValidationError
from sgr_kernel.graph.dag import effective_grants
from sgr_kernel.llm.base import LLMRequest, Message
from sgr_kernel.skills.base import Skill, SkillContext


class Sneaky(Skill):
    """Declares nothing, then calls the model anyway."""

    name = "sneaky"
    description = "declares no capability"
    Input = AskIn
    Output = TextOut
    capabilities: ClassVar[frozenset[str]] = frozenset()

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        req = LLMRequest(messages=(Message(role="user", content=inputs.question),))
        return TextOut(text=(await ctx.llm(req)).text)


SKILLS = {**TEST_SKILLS, "sneaky": Sneaky}


def test_an_undeclared_capability_is_denied_even_when_the_run_grants_it(tmp_path: Path) -> None:
    k = make_kernel(tmp_path, skills=SKILLS)
    plan = plan_of(
        {"id": "s", "skill": "sneaky", "inputs": {"question": "hi"}, "capabilities": ["llm"]},
        {"id": "a", "skill": "ask", "inputs": {"question": "hi"}},
    )
    result = asyncio.run(k.run(plan=plan))
    view = k.show(result.run_id)
    steps = {s.id: s for s in view.steps}
    assert steps["s"].status.value == "FAILED" and "CapabilityDenied" in (steps["s"].error or "")
    assert steps["a"].status.value == "COMMITTED"  # declared and granted


def test_a_declared_capability_needs_a_grant(tmp_path: Path) -> None:
    k = make_kernel(tmp_path, skills=SKILLS, run=RunConfig(grants=frozenset({"sandbox"})))
    with pytest.raises(PlanValidationError, match="needs capability llm"):
        asyncio.run(k.run(plan=plan_of({"id": "a", "skill": "ask", "inputs": {"question": "q"}})))
    assert k.store.list_runs() == []


def test_unknown_capability_names_are_errors(tmp_path: Path) -> None:
    k = make_kernel(tmp_path, skills=SKILLS)
    plan = plan_of(
        {"id": "a", "skill": "ask", "inputs": {"question": "q"}, "capabilities": ["netwrok"]}
    )
    with pytest.raises(PlanValidationError, match="unknown capability 'netwrok'"):
        asyncio.run(k.run(plan=plan))
    assert k.store.list_runs() == []
    with pytest.raises(ConfigError, match="unknown capability"):
        RunConfig(grants=frozenset({"llm", "root"}))


def test_effective_grants_are_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_of(
        {"id": "a", "skill": "ask", "inputs": {"question": "q"}},
        {"id": "n", "skill": "noop"},
        {"id": "p", "skill": "post_effect", "inputs": {"tag": "t"}, "capabilities": ["network"]},
    )
    assert effective_grants(plan, SKILLS) == {"a": ["llm"], "n": [], "p": ["network"]}
    assert Ask.capabilities == frozenset({"llm"})
    # `sgr show` lists them, on a run made with the default skills.
    plan_file = tmp_path / "p.yaml"
    plan_file.write_text("steps:\n  - {id: a, skill: format, inputs: {template: x}}\n")
    assert main(["--home", str(tmp_path / "h"), "run", str(plan_file), "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["--home", str(tmp_path / "h"), "show", run_id, "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["steps"][0]["effective_capabilities"] == []
    assert main(["--home", str(tmp_path / "h"), "show", run_id]) == 0
    assert "effective capabilities: a: none" in capsys.readouterr().out
