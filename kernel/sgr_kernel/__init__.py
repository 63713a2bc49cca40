"""sgr_kernel: the agent kernel — plans, engines, the write-ahead trace, replay.

Importing it is cheap: no Docker SDK, model SDK or Jupyter package is loaded until a run needs
one. The public surface is pinned by ``tests/test_exports.py``.
"""

from sgr_kernel.engine import Kernel, KernelConfig, RunConfig, RunHandle, RunResult
from sgr_kernel.errors import SgrError, SgrUsageError, StepError
from sgr_kernel.models import (
    BudgetPolicy,
    Placement,
    Plan,
    RemoteJobSpec,
    RetryPolicy,
    RunStatus,
    StepSpec,
    StepStatus,
    parse_plan,
)
from sgr_kernel.replay import ReplayEngine, ReplayReport
from sgr_kernel.runs import Runs, RunSummary
from sgr_kernel.skills.base import Skill, SkillContext
from sgr_kernel.trace.base import Durability
from sgr_kernel.trace.view import RequestTrace

__version__ = "0.1.0"

__all__ = [
    "BudgetPolicy",
    "Durability",
    "Kernel",
    "KernelConfig",
    "Placement",
    "Plan",
    "RemoteJobSpec",
    "ReplayEngine",
    "ReplayReport",
    "RequestTrace",
    "RetryPolicy",
    "RunConfig",
    "RunHandle",
    "RunResult",
    "RunStatus",
    "RunSummary",
    "Runs",
    "SgrError",
    "SgrUsageError",
    "Skill",
    "SkillContext",
    "StepError",
    "StepSpec",
    "StepStatus",
    "__version__",
    "parse_plan",
]
