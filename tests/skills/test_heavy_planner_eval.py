"""The planner evaluation's heavy tasks: their catalogue mirrors the real skills, and a
correct plan for each is graded correct (a wrong one is not)."""

from __future__ import annotations

import json

from sgr_kernel.models.plan import parse_plan
from sgr_kernel.testing.planner_eval import HEAVY_CATALOGUE, HEAVY_TASKS, grade
from sgr_skills.finetune import LoraFinetuneSkill
from sgr_skills.research import DeepResearchSkill


def test_the_eval_catalogue_mirrors_the_real_skills() -> None:
    entries = {e["name"]: e for e in HEAVY_CATALOGUE}
    for skill in (DeepResearchSkill, LoraFinetuneSkill):
        e = entries[skill.name]
        real = skill.catalogue_entry()
        assert set(e["inputs"]["properties"]) <= set(real["inputs"]["properties"])
        assert set(e["inputs"]["required"]) == set(real["inputs"].get("required", []))
        assert set(e["outputs"]) <= set(real["outputs"])


def _plan(steps: list[dict[str, object]]) -> object:
    return parse_plan(json.dumps({"name": "p", "steps": steps}))


def test_correct_plans_grade_correct_and_wrong_ones_do_not() -> None:
    research = [
        {"id": "s1", "skill": "deep_research", "inputs": {"question": t.task}}
        for t in HEAVY_TASKS
        if "deep_research" in t.skills
    ]
    for task, step in zip(
        [t for t in HEAVY_TASKS if "deep_research" in t.skills], research, strict=True
    ):
        steps = [step]
        if task.chained:
            steps.append(
                {
                    "id": "s2",
                    "skill": "answer",
                    "inputs": {"question": "Summarise: ${s1.output.answer}"},
                }
            )
        assert grade(_plan(steps), task) == [], task.task  # type: ignore[arg-type]
    lora = [t for t in HEAVY_TASKS if "lora_finetune" in t.skills]
    for task in lora:
        data = next(w for w in task.task.split() if w.endswith(".jsonl"))
        ok = _plan([{"id": "s1", "skill": "lora_finetune", "inputs": {"data": data}}])
        assert grade(ok, task) == []  # type: ignore[arg-type]
        wrong = _plan([{"id": "s1", "skill": "answer", "inputs": {"question": task.task}}])
        assert "no lora_finetune step" in grade(wrong, task)  # type: ignore[arg-type]
