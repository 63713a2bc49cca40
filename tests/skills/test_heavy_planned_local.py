"""The embedded SmolLM2-135M plans a task that needs each heavy skill with that skill, and a
question about one without it (the real catalogue, the engine's plan validation).

Skipped only when ``llama_cpp`` is not importable and ``CI`` is unset; under ``CI=true`` a
missing local model is a failure (``make test`` installs it).
"""

from __future__ import annotations

import asyncio

import pytest

from sgr_kernel.graph.dag import validate_plan
from sgr_kernel.llm.config import LLMSettings, make_client
from sgr_kernel.llm.planner import plan_task
from sgr_kernel.skills.base import DEFAULT_GRANTS
from sgr_kernel.skills.registry import SkillRegistry
from sgr_kernel.testing.planner_eval import HEAVY_TASKS, grade

pytestmark = [pytest.mark.slow, pytest.mark.local_model]
REGISTRY = SkillRegistry.default()
SKILLS = {n: REGISTRY[n] for n in REGISTRY}
CATALOGUE = [SKILLS[n].catalogue_entry() for n in sorted(SKILLS)]
HEAVY = {"backtest_sweep", "deep_research", "lora_finetune", "video_render"}
PICKED = [
    "Using my notes corpus, find out when spring tides happen and cite the sources.",
    "Train a LoRA adapter on support_replies.jsonl for 50 steps and show answers before and after.",
    "Sweep momentum lookbacks on my file prices.csv and tell me which parameters have the "
    "best Sharpe ratio.",
    "Create a short video for the team that presents our three goals for next year as "
    "bullet points.",
    "Explain what a backtest is and why walk-forward validation matters.",
    "What is LoRA fine-tuning? Answer in two sentences.",
]


def test_the_embedded_model_picks_the_heavy_skill_a_task_needs_and_no_other() -> None:
    client = make_client(LLMSettings())  # nothing configured: the embedded model
    tasks = [t for t in HEAVY_TASKS if t.task in PICKED]
    assert len(tasks) == len(PICKED)

    async def plan_all() -> list[tuple[str, list[str], list[str]]]:
        out = []
        for task in tasks:
            plan = await plan_task(
                client.complete,
                task.task,
                CATALOGUE,
                # `remote` granted: the test measures the choice of skill, not the grants.
                validate=lambda p: validate_plan(p, SKILLS, grants=DEFAULT_GRANTS | {"remote"}),
            )
            out.append((task.task, [s.skill for s in plan.steps], grade(plan, task)))
        return out

    results = asyncio.run(plan_all())
    heavy = [(t, used) for t, used, _ in results if any(s in HEAVY for s in used)]
    wanted = [t for t in tasks if "heavy" in t.tags]
    print(f"FIGURE heavy_planned_local tasks={len(results)} heavy_plans={len(heavy)}")
    for (task, used, misses), expected in zip(results, tasks, strict=True):
        assert misses == [], (task, used, misses)
        assert ("heavy" in expected.tags) == bool(set(used) & HEAVY), (task, used)
    assert len(heavy) == len(wanted) == 4
