"""The planner evaluation set: small tasks, the skills offered, what a correct plan contains.

Shared by ``bench/eval_planner.py`` (schema-valid %, executable %, correct %, latency) and the
local-model tests (100% schema-valid, identical output on two runs). The catalogue mirrors
the stable built-in skills of docs/architecture.md, written out here because the kernel may not
import ``sgr_skills``.
"""

from sgr_kernel.testing.planner_eval.base import SKILL_CUES, EvalTask, grade, judge_answer
from sgr_kernel.testing.planner_eval.catalogue import (
    EVAL_CATALOGUE,
    HEAVY_CATALOGUE,
    catalogue_names,
)
from sgr_kernel.testing.planner_eval.tasks import EVAL_TASKS, HEAVY_TASKS

__all__ = [
    "EVAL_CATALOGUE",
    "EVAL_TASKS",
    "HEAVY_CATALOGUE",
    "HEAVY_TASKS",
    "SKILL_CUES",
    "EvalTask",
    "catalogue_names",
    "grade",
    "judge_answer",
]
