"""The fold from records to run state: the one place that gives each record type its meaning.

``RunState`` is what resume, snapshots, the ``RequestTrace`` view and the widgets see. It is a
plain mutable accumulator owned by one thread; ``dump``/``load`` make it a snapshot payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.models.plan import Plan
from sgr_kernel.models.plan_log import plan_from_record
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.base import Record, RecordType

__all__ = ["PLAN_STEP", "RecordedCall", "RunState", "RunStateCodec", "StepState", "Usage"]

_STEP_STATUS = {s.value: s for s in StepStatus}
"""Faster than ``StepStatus(value)`` on the fold's hot path."""
# Read per record: as globals (an enum member read off its class costs ~100 ns on Python 3.11).
_STEP, _RUNNING, _COMMITTED = RecordType.STEP, StepStatus.RUNNING, StepStatus.COMMITTED

PLAN_STEP = "__plan__"
"""The pseudo-step under which the planner's model calls are recorded."""


@dataclass
class Usage:
    """Running totals for budgets."""

    tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0
    steps_launched: int = 0


@dataclass
class RecordedCall:
    """One recorded interaction: an effect (intent + result) or a value (now/random/id)."""

    n: int
    kind: str
    key: str = ""
    request: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    value: Any = None
    is_value: bool = False

    @property
    def open(self) -> bool:
        """An effect whose intent is logged and whose result is not: its outcome is unknown."""
        return not self.is_value and self.result is None

    def dump(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def load(cls, d: dict[str, Any]) -> RecordedCall:
        return cls(**d)


@dataclass(slots=True)
class StepState:
    """What the log says about one step.

    A run holds one per step from its creation: the collections a step rarely needs (past
    failures, open intents) start as shared immutable empties and are replaced, not mutated.
    """

    status: StepStatus = StepStatus.PENDING
    attempt: int = 0
    output: dict[str, Any] | None = None
    failure: FailureRecord | None = None
    failures: tuple[FailureRecord, ...] = ()
    reason: str | None = None
    approval: bool | None = None
    approval_by: str | None = None
    approval_reason: str | None = None
    started_ts: float | None = None
    ended_ts: float | None = None
    open_intents: frozenset[str] = frozenset()
    usage: Usage = field(default_factory=Usage)
    calls: dict[int, RecordedCall] = field(default_factory=dict)
    """The calls of the latest attempt that has not ended with an outcome: what a resumed
    attempt is served from the log instead of doing again. Emptied by an outcome."""


@dataclass
class RunState:
    """What the log says about one run."""

    run_id: str = ""
    name: str = ""
    task: str | None = None
    status: RunStatus = RunStatus.CREATED
    reason: str | None = None
    plan: Plan | None = None
    config: dict[str, Any] = field(default_factory=dict)
    parent: dict[str, Any] | None = None
    created_ts: float | None = None
    ended_ts: float | None = None
    steps: dict[str, StepState] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    last_seq: int = -1
    _expected_plan: tuple[Plan, dict[str, Any]] | None = field(
        default=None, repr=False, compare=False
    )

    def expect_plan(self, plan: Plan, data: dict[str, Any]) -> None:
        """Fold the next record whose plan is ``data`` (this very object, the JSON of
        ``plan``) to ``plan`` itself: the writer validated it already, and validating a
        1,000-step plan again from JSON costs more than the rest of creating the run."""
        self._expected_plan = (plan, data)

    def step(self, step_id: str) -> StepState:
        st = self.steps.get(step_id)
        if st is None:
            st = self.steps[step_id] = StepState()
        return st

    def apply(self, rec: Record) -> RunState:
        """Fold one record in. Records are trusted here: the writer enforced the rules."""
        return self.fold(rec.type, rec.step, rec.data, rec.ts, rec.seq)

    def fold(
        self, t: RecordType, step: str | None, d: dict[str, Any], ts: float, seq: int
    ) -> RunState:
        """:meth:`apply` for a record given by its fields (the journal has no Record)."""
        if t is _STEP and step is not None:  # the most frequent, first
            self._apply_step(step, d, ts)
        elif t is RecordType.RUN_CREATED:
            self.run_id = d["run_id"]
            self.name = d.get("name", "")
            self.task = d.get("task")
            self.config = d.get("config", {})
            self.parent = d.get("parent")
            self.created_ts = ts
            if d.get("plan") is not None:
                self._set_plan(d)
        elif t is RecordType.PLAN:
            self._set_plan(d)
        elif t is RecordType.RUN_STATUS:
            self.status = RunStatus(d["status"])
            self.reason = d.get("reason")
            if self.status.terminal:
                self.ended_ts = ts
        elif t is RecordType.INTENT and step is not None:
            st = self.step(step)
            st.open_intents |= {d["key"]}
            st.calls[d["n"]] = RecordedCall(d["n"], d["kind"], d["key"], d.get("request"))
        elif t is RecordType.RESULT and step is not None:
            st = self.step(step)
            st.open_intents -= {d["key"]}
            call = st.calls.get(d["n"])
            if call is None:
                call = st.calls[d["n"]] = RecordedCall(d["n"], d["kind"], d["key"])
            call.result = d
        elif t is RecordType.VALUE and step is not None:
            self.step(step).calls[d["n"]] = RecordedCall(
                d["n"], d["kind"], value=d.get("value"), is_value=True
            )
        elif t is RecordType.APPROVAL and step is not None:
            st = self.step(step)
            st.approval = bool(d["approved"])
            st.approval_by = d.get("by")
            st.approval_reason = d.get("reason")
        elif t is RecordType.USAGE:
            for u in (self.usage, self.step(step).usage if step else None):
                if u is not None:
                    u.tokens += int(d.get("tokens", 0))
                    u.cost_usd += float(d.get("cost_usd", 0.0))
                    u.llm_calls += int(d.get("llm_calls", 0))
        self.last_seq = seq
        return self

    def _set_plan(self, data: dict[str, Any]) -> None:
        expected, self._expected_plan = self._expected_plan, None
        if expected is not None and expected[1] is data["plan"]:
            self.plan = expected[0]
        else:
            self.plan = plan_from_record(data)
        steps = self.steps
        for s in self.plan.steps:
            if s.id not in steps:
                steps[s.id] = StepState()

    def _apply_step(self, sid: str, d: dict[str, Any], ts: float) -> None:
        st = self.steps.get(sid) or self.step(sid)
        status = st.status = _STEP_STATUS[d["status"]]
        st.attempt = int(d.get("attempt", st.attempt))
        st.reason = d.get("reason", st.reason)
        if status is _RUNNING:
            st.started_ts = ts
            if st.open_intents:
                st.open_intents = frozenset()
            if sid != PLAN_STEP:  # planning is not a step of the plan's budget
                self.usage.steps_launched += 1
                st.usage.steps_launched += 1
        elif status is _COMMITTED:
            st.output = d.get("output")
            st.ended_ts = ts
            if st.calls:
                st.calls = {}
        elif status is StepStatus.WAITING_APPROVAL:
            st.approval = None  # a decision is asked for afresh; it is recorded next
        elif status in (StepStatus.FAILED, StepStatus.RETRY_WAIT):
            if d.get("failure") is not None:
                st.failure = FailureRecord.model_validate(d["failure"])
                st.failures += (st.failure,)
                st.calls = {}  # the attempt ended with an outcome: the next starts afresh
            if status is StepStatus.FAILED:
                st.ended_ts = ts
                st.calls = {}
        elif status in (StepStatus.SKIPPED, StepStatus.CANCELLED):
            st.ended_ts = ts
            st.calls = {}

    # ------------------------------------------------------------ snapshots

    def dump(self) -> dict[str, Any]:
        def step(s: StepState) -> dict[str, Any]:
            return {
                "status": s.status.value,
                "attempt": s.attempt,
                "output": s.output,
                "failure": s.failure.model_dump() if s.failure else None,
                "failures": [f.model_dump() for f in s.failures],
                "reason": s.reason,
                "approval": s.approval,
                "approval_by": s.approval_by,
                "approval_reason": s.approval_reason,
                "started_ts": s.started_ts,
                "ended_ts": s.ended_ts,
                "open_intents": sorted(s.open_intents),
                "usage": vars(s.usage),
                "calls": [c.dump() for c in s.calls.values()],
            }

        return {
            "run_id": self.run_id,
            "name": self.name,
            "task": self.task,
            "status": self.status.value,
            "reason": self.reason,
            "plan": self.plan.model_dump(mode="json") if self.plan else None,
            "config": self.config,
            "parent": self.parent,
            "created_ts": self.created_ts,
            "ended_ts": self.ended_ts,
            "steps": {k: step(v) for k, v in self.steps.items()},
            "usage": vars(self.usage),
            "last_seq": self.last_seq,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> RunState:
        def step(d: dict[str, Any]) -> StepState:
            return StepState(
                status=_STEP_STATUS[d["status"]],
                attempt=d["attempt"],
                output=d["output"],
                failure=FailureRecord.model_validate(d["failure"]) if d["failure"] else None,
                failures=tuple(FailureRecord.model_validate(f) for f in d["failures"]),
                reason=d["reason"],
                approval=d["approval"],
                approval_by=d["approval_by"],
                approval_reason=d.get("approval_reason"),
                started_ts=d["started_ts"],
                ended_ts=d["ended_ts"],
                open_intents=frozenset(d["open_intents"]),
                usage=Usage(**d["usage"]),
                calls={c["n"]: RecordedCall.load(c) for c in d.get("calls", ())},
            )

        return cls(
            run_id=data["run_id"],
            name=data["name"],
            task=data["task"],
            status=RunStatus(data["status"]),
            reason=data["reason"],
            plan=Plan.model_validate(data["plan"]) if data["plan"] else None,
            config=data["config"],
            parent=data["parent"],
            created_ts=data["created_ts"],
            ended_ts=data["ended_ts"],
            steps={k: step(v) for k, v in data["steps"].items()},
            usage=Usage(**data["usage"]),
            last_seq=data["last_seq"],
        )

    @classmethod
    def from_records(cls, records: Any) -> RunState:
        state = cls()
        for rec in records:
            state.apply(rec)
        return state


class RunStateCodec:
    """Adapts :class:`RunState` to the CheckpointManager's codec protocol."""

    def initial(self) -> RunState:
        return RunState()

    def apply(self, state: RunState, record: Record) -> RunState:
        return state.apply(record)

    def dump(self, state: RunState) -> dict[str, Any]:
        return state.dump()

    def load(self, data: Mapping[str, Any]) -> RunState:
        return RunState.load(dict(data))
