"""What a fork of a run at one of its steps is: the new plan and the outputs it inherits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sgr_kernel.errors import SgrUsageError
from sgr_kernel.graph.dag import build_dag
from sgr_kernel.models.plan import Plan, plan_from_data
from sgr_kernel.models.status import StepStatus
from sgr_kernel.safety import check_shape
from sgr_kernel.trace.state import RunState

__all__ = ["fork_plan"]


def fork_plan(
    old: RunState, run_id: str, from_step: str, inputs: Mapping[str, Any] | None
) -> tuple[Plan, dict[str, dict[str, Any]]]:
    """The plan of a fork of ``old`` (run ``run_id``) at ``from_step``, with ``inputs`` merged
    over that step's own, and the committed outputs it inherits: every step's but
    ``from_step``'s and its descendants', which go live. Raises SgrUsageError for a run without
    a plan, an unknown step, or inputs that are not bounded JSON."""
    if inputs is not None:
        try:
            check_shape(dict(inputs))
        except ValueError as e:
            raise SgrUsageError(f"fork inputs: {e}") from None
    if old.plan is None:
        raise SgrUsageError(f"run {run_id!r} has no plan to fork from")
    if from_step not in old.plan.step_ids:
        raise SgrUsageError(
            f"run {run_id!r} has no step {from_step!r} (steps: {', '.join(old.plan.step_ids)})"
        )
    steps = [
        s.model_copy(update={"inputs": {**s.inputs, **(inputs or {})}}) if s.id == from_step else s
        for s in old.plan.steps
    ]
    # Rebuilt through validation: the new inputs come from outside.
    data = old.plan.model_copy(update={"steps": tuple(steps)}).model_dump(mode="json")
    plan = plan_from_data(data, source="fork inputs")
    redo = {from_step} | build_dag(plan).descendants(from_step)
    inherited = {
        sid: st.output or {}
        for sid, st in old.steps.items()
        if st.status is StepStatus.COMMITTED and sid not in redo and sid in plan.step_ids
    }
    return plan, inherited
