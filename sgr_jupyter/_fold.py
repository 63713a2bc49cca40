"""Fold a run's records into the small summaries a RunView syncs.

The kernel's own fold (``sgr_kernel.trace.state.RunState``) gives each record its meaning;
this module only windows and shapes that state for the front end: a state map, the Mermaid
structure (sent once per plan), a window of step events, the last lines of live output, and
the budget meter. It is pure and thread-confined: the session calls it from its loop thread
under the view's lock, and tests call it directly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from sgr_jupyter._live import LiveFold, is_live_event, shown_reason, waiting_reason
from sgr_jupyter.config import budget_policy
from sgr_kernel.graph.mermaid import mermaid_node_id, plan_to_mermaid
from sgr_kernel.models.plan import Plan
from sgr_kernel.models.refs import RefError, resolve_inputs
from sgr_kernel.models.status import StepStatus
from sgr_kernel.runs import artifacts_in
from sgr_kernel.trace.base import Record, RecordType
from sgr_kernel.trace.state import PLAN_STEP, RunState

__all__ = ["RunFold"]

_LOG_WINDOW = 100
_TEXT_CAP = 2000
_BUDGET_KEYS = (
    ("tokens", "max_tokens"),
    ("cost_usd", "max_cost_usd"),
    ("steps", "max_steps"),
    ("llm_calls", "max_llm_calls"),
    ("wall_s", "max_wall_s"),
)


def _short(value: Any, cap: int = _TEXT_CAP) -> Any:
    """Cap long strings so a detail panel never ships megabytes to the browser."""
    if isinstance(value, str) and len(value) > cap:
        return value[:cap] + f"\u2026 ({len(value) - cap} more characters)"
    if isinstance(value, Mapping):
        return {str(k): _short(v, cap) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_short(v, cap) for v in value[:50]]
    return value


class RunFold:
    """Accumulates records of one run and reports what changed since the last ``take``."""

    def __init__(self, budget: Mapping[str, float] | None = None, window: int = 200) -> None:
        self.state = RunState()
        self.budget_limits = dict(budget or {})
        self.timeline: deque[dict[str, Any]] = deque(maxlen=window)
        self.log: deque[dict[str, Any]] = deque(maxlen=_LOG_WINDOW)
        self.records = 0
        self.live = LiveFold()
        self._plan_seen: Plan | None = None
        self._dirty: set[str] = set()
        self._t0: float | None = None
        self._t_last: float | None = None

    # ------------------------------------------------------------ input

    def set_plan(self, plan: Plan) -> None:
        """Show a plan known before its records arrive (a ``--plan`` cell)."""
        if self.state.plan is None:
            self.state.plan = plan
            for s in plan.steps:
                self.state.step(s.id)
            self._dirty.update(("mermaid", "states"))

    def seed(self, state: RunState) -> None:
        """Adopt a state folded elsewhere (the kernel's), keeping a provisional plan."""
        if state.plan is None and self.state.plan is not None:
            state.plan = self.state.plan
            for s in state.plan.steps:
                state.step(s.id)
        self.state = state
        self._t0 = state.created_ts
        for sid, st in state.steps.items():
            if st.status is StepStatus.RUNNING and st.started_ts is not None and self._t0:
                self.live.started[sid] = round(st.started_ts - self._t0, 3)
        self._dirty.update(("mermaid", "states", "status", "budget", "started"))

    @property
    def last_ts(self) -> float | None:
        """Epoch seconds of the last logged record folded in."""
        return self._t_last

    @property
    def t0(self) -> float | None:
        """Epoch seconds of the run's start (its first record)."""
        return self.state.created_ts or self._t0

    def apply(self, rec: Record) -> None:
        """Fold one record in; logged records at or below the last seen seq are ignored
        (dedupe); live events, which repeat the last logged seq, are always taken."""
        if is_live_event(rec, self.state.last_seq):
            self._event(rec)
            return
        if rec.seq <= self.state.last_seq:
            return
        self.records += 1
        self._t0 = rec.ts if self._t0 is None else self._t0
        self._t_last = rec.ts
        if rec.type is RecordType.PLAN and self.state.plan is not None:
            # A planner-made plan replaces a provisional one shown from the cell.
            self.state.plan = None
        self.state.apply(rec)
        t = rec.type
        if t in (RecordType.PLAN, RecordType.RUN_CREATED) and self.state.plan is not None:
            self._dirty.update(("mermaid", "states"))
        elif t is RecordType.STEP and rec.step is not None:
            self._dirty.update(("states", "timeline"))
            if self.live.on_step(rec, self._t0 or rec.ts):
                self._dirty.update(("started", "stream"))
            self.timeline.append(
                {
                    "step": rec.step,
                    "status": str(rec.data.get("status")),
                    "attempt": int(rec.data.get("attempt", 0) or 0),
                    "t": round(rec.ts - self._t0, 3),
                }
            )
        elif t is RecordType.RUN_STATUS:
            self._dirty.add("status")
        elif t is RecordType.USAGE:
            self._dirty.add("budget")
        elif t is RecordType.EVENT:
            self._event(rec)
        if t is RecordType.STEP:
            self._dirty.add("budget")  # steps launched and wall time move the meter

    def _event(self, rec: Record) -> None:
        t0 = self.t0 if self.t0 is not None else rec.ts
        self._dirty |= self.live.on_event(rec, t0)
        kind = rec.data.get("kind")
        if kind == "token":
            return  # tokens go to ``stream``; a line per token would flood the log window
        text = rec.data.get("text") or rec.data.get("line") or rec.data.get("message")
        if kind == "progress":  # a remote job's report: bar-like text
            fraction = rec.data.get("fraction")
            pct = "" if fraction is None else f"{round(float(fraction) * 100)}% "
            text = f"{pct}{rec.data.get('message') or ''}".strip() or "progress"
        if text is None:
            text = ", ".join(f"{k}={v}" for k, v in sorted(rec.data.items()))
        self.log.append({"step": rec.step or "", "text": _short(str(text), 500)})
        self._dirty.add("log")

    # ------------------------------------------------------------ output

    @property
    def plan(self) -> Plan | None:
        return self.state.plan

    def states(self) -> dict[str, str]:
        """The user's steps and their states (planning is not one of them)."""
        return {k: v.status.value for k, v in self.state.steps.items() if k != PLAN_STEP}

    def waiting(self) -> list[str]:
        wait = StepStatus.WAITING_APPROVAL
        return [k for k, v in self.state.steps.items() if v.status is wait and k != PLAN_STEP]

    def resolved_inputs(self, step_id: str) -> tuple[dict[str, Any], list[str]]:
        """A step's inputs with ``${...}`` filled from committed outputs, and the names of
        those still waiting on a step that has not committed (shown as written)."""
        plan = self.state.plan
        if plan is None or step_id not in plan.step_ids:
            return {}, []
        outputs = {
            k: v.output
            for k, v in self.state.steps.items()
            if v.status is StepStatus.COMMITTED and v.output is not None
        }
        resolved: dict[str, Any] = {}
        pending: list[str] = []
        for name, value in plan.step(step_id).inputs.items():
            try:
                resolved[name] = resolve_inputs(value, outputs)
            except (RefError, KeyError, IndexError, TypeError, ValueError):
                resolved[name] = value
                pending.append(name)
        return resolved, pending

    def mermaid(self) -> tuple[str, dict[str, str]]:
        """Mermaid structure (every node pending; live colours travel in ``states``)."""
        plan = self.state.plan
        if plan is None:
            return "", {}
        return plan_to_mermaid(plan, {}), {s.id: mermaid_node_id(s.id) for s in plan.steps}

    def budget(self) -> dict[str, list[float | None]]:
        u = self.state.usage
        wall = (self._t_last - self._t0) if self._t0 is not None and self._t_last else 0.0
        used = {
            "tokens": u.tokens,
            "cost_usd": round(u.cost_usd, 6),
            "steps": u.steps_launched,
            "llm_calls": u.llm_calls,
            "wall_s": round(wall, 3),
        }
        policy = budget_policy(self.budget_limits)
        if self.state.plan is not None:
            policy = policy.merged(self.state.plan.budget)  # the stricter wins, as in the engine
        limits = policy.model_dump()
        return {key: [used[key], limits[limit_key]] for key, limit_key in _BUDGET_KEYS}

    def detail(self, step_id: str) -> dict[str, Any]:
        """Everything the widget shows for one step (inputs, output, attempts, usage...)."""
        plan = self.state.plan
        st = self.state.steps.get(step_id)
        if st is None:
            return {}
        spec = None
        if plan is not None and step_id in plan.step_ids:
            spec = plan.step(step_id)
        duration = None
        if st.started_ts is not None and st.ended_ts is not None:
            duration = round(st.ended_ts - st.started_ts, 3)
        inputs, pending = self.resolved_inputs(step_id)
        return {
            "id": step_id,
            "skill": spec.skill if spec else "",
            "status": st.status.value,
            "inputs": _short(inputs),
            "inputs_pending": pending,
            "depends_on": list(spec.depends_on) if spec else [],
            "requires_approval": bool(spec and spec.requires_approval),
            "waiting_reason": waiting_reason(st),
            "attempts": st.attempt,
            "output": _short(st.output),
            "error": shown_reason(st),
            "errors": [f.message for f in st.failures][-5:],
            "llm_calls": st.usage.llm_calls,
            "tokens": st.usage.tokens,
            "cost_usd": round(st.usage.cost_usd, 6),
            "duration_s": duration,
            "artifacts": _artifacts(step_id, st.output),
        }

    def take_dirty(self) -> set[str]:
        dirty, self._dirty = self._dirty, set()
        return dirty


def _artifacts(step: str, output: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [a.model_dump(mode="json") for a in artifacts_in(step, output)][:20]
