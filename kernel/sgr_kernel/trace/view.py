"""``RequestTrace``: a read-only view of a run, materialised from its log for export, the CLI,
the widgets and the side panel. It is never the source of truth (docs/trace.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.models.plan import Plan
from sgr_kernel.models.policies import BudgetPolicy
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.base import Record, RecordType
from sgr_kernel.trace.state import PLAN_STEP, RunState

__all__ = ["CallView", "RequestTrace", "StepView", "UsageView", "materialise"]


class UsageView(BaseModel):
    """Totals for a run or a step."""

    model_config = ConfigDict(frozen=True)

    tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0
    steps_launched: int = 0


class CallView(BaseModel):
    """One recorded call of a step (model, sandbox, HTTP, remote job)."""

    model_config = ConfigDict(frozen=True)

    attempt: int
    n: int
    kind: str
    ok: bool | None = Field(None, description="None: no result was recorded (in doubt).")
    latency_s: float | None = None
    error: str | None = None


class StepView(BaseModel):
    """One step as the log tells it."""

    model_config = ConfigDict(frozen=True)

    id: str
    skill: str
    status: StepStatus
    attempts: int
    depends_on: list[str] = Field(default_factory=list)
    output: dict[str, Any] | None = None
    error: str | None = Field(None, description="The last failure, as 'Type: message'.")
    failures: list[FailureRecord] = Field(default_factory=list)
    reason: str | None = None
    approval: bool | None = None
    approval_by: str | None = None
    started_ts: float | None = None
    ended_ts: float | None = None
    duration_s: float | None = None
    usage: UsageView = Field(default_factory=UsageView)
    calls: list[CallView] = Field(default_factory=list)
    progress: dict[str, Any] | None = Field(
        None,
        description="A running step's latest logged progress report: fraction (0..1 or None), "
        "message, metrics, t (run seconds). Logged at a bounded rate, so any process that reads "
        "the log sees it, not only the one that runs the step.",
    )


class RequestTrace(BaseModel):
    """A whole run: what ``sgr show --json`` prints."""

    model_config = ConfigDict(frozen=True)

    v: int = 1
    run_id: str
    name: str
    task: str | None
    status: RunStatus
    reason: str | None
    created_ts: float | None
    ended_ts: float | None
    parent: dict[str, Any] | None = None
    plan: Plan | None
    budget: BudgetPolicy
    usage: UsageView
    steps: list[StepView]
    records: int


def _calls(records: Iterable[Record]) -> dict[str, list[CallView]]:
    calls: dict[str, dict[tuple[int, int], CallView]] = {}
    for rec in records:
        if rec.step is None or rec.type not in (RecordType.INTENT, RecordType.RESULT):
            continue
        d = rec.data
        key = (int(d["attempt"]), int(d["n"]))
        mine = calls.setdefault(rec.step, {})
        if rec.type is RecordType.INTENT:
            mine[key] = CallView(attempt=key[0], n=key[1], kind=d["kind"])
        else:
            f = d.get("failure")
            resp = d.get("response") or {}
            mine[key] = CallView(
                attempt=key[0],
                n=key[1],
                kind=d["kind"],
                ok=bool(d.get("ok")),
                latency_s=resp.get("latency_s") if isinstance(resp, dict) else None,
                error=f"{f['type']}: {f['message']}" if f else None,
            )
    return {k: list(v.values()) for k, v in calls.items()}


def _progress(records: list[Record], t0: float) -> dict[str, dict[str, Any]]:
    """Each step's last logged progress report."""
    latest: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec.type is RecordType.EVENT and rec.step and rec.data.get("kind") == "progress":
            d = rec.data
            latest[rec.step] = {
                "fraction": d.get("fraction"),
                "message": str(d.get("message") or ""),
                "metrics": dict(d.get("metrics") or {}),
                "t": round(rec.ts - t0, 3),
            }
    return latest


def materialise(records: Iterable[Record], state: RunState | None = None) -> RequestTrace:
    """Build the view from a run's records (and its folded state, when already at hand)."""
    records = list(records)
    if state is None:
        state = RunState.from_records(records)
    calls = _calls(records)
    progress = _progress(records, state.created_ts or 0.0)
    plan = state.plan
    order = list(plan.step_ids) if plan else []
    if PLAN_STEP in state.steps:
        order.insert(0, PLAN_STEP)
    steps: list[StepView] = []
    for sid in order:
        st = state.steps[sid]
        spec = plan.step(sid) if plan and sid != PLAN_STEP else None
        f = st.failure if st.status in (StepStatus.FAILED, StepStatus.RETRY_WAIT) else None
        duration = None
        if st.started_ts is not None and st.ended_ts is not None:
            duration = max(0.0, st.ended_ts - st.started_ts)
        steps.append(
            StepView(
                id=sid,
                skill=spec.skill if spec else "planner",
                status=st.status,
                attempts=st.attempt,
                depends_on=list(spec.depends_on) if spec else [],
                output=st.output,
                error=f"{f.type}: {f.message}" if f else None,
                failures=list(st.failures),
                reason=st.reason,
                approval=st.approval,
                approval_by=st.approval_by,
                started_ts=st.started_ts,
                ended_ts=st.ended_ts,
                duration_s=duration,
                usage=UsageView(**vars(st.usage)),
                calls=calls.get(sid, []),
                progress=progress.get(sid) if st.status is StepStatus.RUNNING else None,
            )
        )
    budget = BudgetPolicy.model_validate(state.config.get("budget", {}))
    return RequestTrace(
        run_id=state.run_id,
        name=state.name,
        task=state.task,
        status=state.status,
        reason=state.reason,
        created_ts=state.created_ts,
        ended_ts=state.ended_ts,
        parent=state.parent,
        plan=plan,
        budget=budget.merged(plan.budget) if plan else budget,
        usage=UsageView(**vars(state.usage)),
        steps=steps,
        records=len(records),
    )
