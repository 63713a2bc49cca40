"""Values that describe plans, states and failures. Everything here is frozen."""

from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.models.plan import Placement, Plan, StepSpec, parse_plan, plan_from_data
from sgr_kernel.models.policies import BudgetPolicy, RetryPolicy
from sgr_kernel.models.refs import Ref, RefError, find_refs, resolve_inputs
from sgr_kernel.models.remote import RemoteJobSpec
from sgr_kernel.models.status import (
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    RunStatus,
    StepStatus,
    check_run_transition,
    check_step_transition,
)

__all__ = [
    "RUN_TRANSITIONS",
    "STEP_TRANSITIONS",
    "BudgetPolicy",
    "FailureRecord",
    "Placement",
    "Plan",
    "Ref",
    "RefError",
    "RemoteJobSpec",
    "RetryPolicy",
    "RunStatus",
    "StepSpec",
    "StepStatus",
    "check_run_transition",
    "check_step_transition",
    "find_refs",
    "parse_plan",
    "plan_from_data",
    "resolve_inputs",
]
