"""The PLANNING phase: a task becomes a validated plan through recorded model calls."""

from __future__ import annotations

from collections.abc import Mapping

from sgr_kernel.engine.context import RunContext
from sgr_kernel.engine.runtime import RunRuntime
from sgr_kernel.errors import ReplayDivergenceError
from sgr_kernel.graph.dag import validate_plan
from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.models.plan import Plan
from sgr_kernel.models.plan_log import plan_record
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.skills.base import CAP_LLM, Skill
from sgr_kernel.trace.base import RecordType
from sgr_kernel.trace.state import PLAN_STEP

__all__ = ["plan_run"]


async def plan_run(rt: RunRuntime, skills: Mapping[str, type[Skill]]) -> Plan:
    """Plan the run's task (recorded under the ``__plan__`` pseudo-step) and log the plan."""
    from sgr_kernel.llm.planner import plan_task

    journal = rt.journal
    state = journal.state
    task = state.task or ""
    if state.status is not RunStatus.PLANNING:
        journal.run_status(RunStatus.PLANNING)
    attempt = 1
    recorded = None
    if rt.recorded is not None:
        recorded = rt.recorded.attempts.get((PLAN_STEP, attempt))
    ctx_caps = frozenset({CAP_LLM})
    ctx = RunContext(rt, PLAN_STEP, attempt, capabilities=ctx_caps, recorded=recorded)
    grants = rt.config.grants

    def validate(plan: Plan) -> list[str]:
        return validate_plan(plan, skills, grants=grants, budget=rt.config.budget)

    planner = journal.state.step(PLAN_STEP)
    if planner.status is not StepStatus.PENDING:
        # Planning was interrupted: a new attempt that is served the model answers the cut
        # one had already logged (no call is paid for twice).
        attempt = planner.attempt + 1
        carry = None if rt.replaying else dict(planner.calls)
        if planner.status is StepStatus.RUNNING:
            journal.step_status(PLAN_STEP, StepStatus.RETRY_WAIT, attempt=planner.attempt)
        if planner.status is StepStatus.RETRY_WAIT:
            journal.step_status(PLAN_STEP, StepStatus.READY, attempt=planner.attempt)
        ctx = RunContext(rt, PLAN_STEP, attempt, capabilities=ctx_caps, recorded=None, carry=carry)
    via = (StepStatus.READY,) if planner.status is StepStatus.PENDING else ()
    journal.step_status(PLAN_STEP, StepStatus.RUNNING, via=via, attempt=attempt)
    try:
        plan = await plan_task(
            ctx.llm,
            task,
            [skills[n].catalogue_entry() for n in sorted(skills)],
            validate=validate,
            max_replans=rt.config.max_replans,
        )
    except Exception as e:
        failure = FailureRecord.from_exception(e, attempt).model_dump()
        journal.step_status(PLAN_STEP, StepStatus.FAILED, attempt=attempt, failure=failure)
        raise
    if rt.replaying and rt.recorded is not None:
        want = rt.recorded.state.plan
        if want is None or want != plan:
            raise ReplayDivergenceError(
                PLAN_STEP,
                want.model_dump(mode="json") if want else None,
                plan.model_dump(mode="json"),
            )
    journal.step_status(
        PLAN_STEP, StepStatus.COMMITTED, attempt=attempt, output={"steps": len(plan.steps)}
    )
    data = plan_record(plan)
    journal.state.expect_plan(plan, data["plan"])
    journal.append(RecordType.PLAN, data, durable=True)
    journal.run_status(RunStatus.PLANNED)
    return plan
