"""The heavy skills' cues: declared by each skill, mirrored by the planner evaluation, and
offering each heavy task its skill's shape (and no near miss any heavy one)."""

from __future__ import annotations

import pytest

from sgr_kernel.llm.planner import planner_output_model, planner_schema
from sgr_kernel.llm.skill_shapes import cued_skills
from sgr_kernel.skills.registry import SkillRegistry
from sgr_kernel.testing.planner_eval import EVAL_CATALOGUE, EVAL_TASKS, HEAVY_TASKS, SKILL_CUES

HEAVY = ("backtest_sweep", "deep_research", "lora_finetune", "video_render")
REGISTRY = SkillRegistry.default()
CATALOGUE = [REGISTRY[n].catalogue_entry() for n in sorted(REGISTRY)]


def test_every_heavy_skill_declares_cues_and_the_evaluation_mirrors_them() -> None:
    for name in HEAVY:
        assert list(REGISTRY[name].cues) == SKILL_CUES[name], name
    light = [n for n in REGISTRY if n not in HEAVY]
    assert light and all(not REGISTRY[n].cues for n in light)


@pytest.mark.parametrize("task", [t for t in HEAVY_TASKS if "heavy" in t.tags], ids=str)
def test_a_heavy_task_cues_the_skill_it_needs_first(task: object) -> None:
    wanted = [s for s in HEAVY if s in task.skills]  # type: ignore[attr-defined]
    cued = cued_skills(task.task, CATALOGUE)  # type: ignore[attr-defined]
    assert cued and set(cued) == set(wanted) and cued[0] in wanted


def test_near_misses_and_the_44_tasks_cue_no_heavy_skill() -> None:
    near = [t for t in HEAVY_TASKS if "near" in t.tags]
    assert len(near) >= 3
    for task in [*near, *EVAL_TASKS]:
        assert cued_skills(task.task, CATALOGUE) == [], task.task
        assert cued_skills(task.task, EVAL_CATALOGUE) == [], task.task


def test_each_heavy_skill_shape_schema_is_its_own_input_schema() -> None:
    for name, task in (
        ("backtest_sweep", "Backtest a momentum strategy on my file prices.csv."),
        ("deep_research", "Using my notes corpus, find out when spring tides happen."),
        ("lora_finetune", "Fine-tune the model on pirate.jsonl for 30 steps."),
        ("video_render", "Make a short video about our sales."),
    ):
        out = planner_output_model(CATALOGUE, task=task)
        schema = planner_schema(out, CATALOGUE, task)
        assert schema["properties"]["shape"]["enum"] == [name]
        required = set(REGISTRY[name].Input.model_json_schema().get("required", []))
        assert required <= set(schema["properties"]["inputs"]["properties"])
