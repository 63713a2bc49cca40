"""The live parts of a RunView's state: progress, streamed text, attempt starts, errors, phase.

Live events (``EVENT`` records of kind ``token``, ``stdout`` or ``progress``) are published to
listeners without being written to the log, so they carry the seq of the last logged record;
:class:`LiveFold` takes them whatever their seq. Everything else here is derived from the
kernel's own :class:`~sgr_kernel.trace.state.RunState`, so a view seeded from the log and a
view that watched the run live show the same thing. Pure and thread-confined, like
:mod:`sgr_jupyter._fold`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sgr_kernel.engine.reliability import why_not_retried
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.base import Record, RecordType
from sgr_kernel.trace.state import PLAN_STEP, RunState, StepState

__all__ = [
    "PLAN_KEY",
    "STREAM_CAP",
    "LiveFold",
    "errors_of",
    "is_live_event",
    "phase_of",
    "shown_reason",
    "waiting_reason",
]

PLAN_KEY = PLAN_STEP
"""The key under which planning's stream, start and error appear (the front end says
"planning"; it is never counted or drawn as a step)."""
STREAM_CAP = 4000
"""Characters of streamed text kept per step (the tail)."""
_TRACEBACK_CAP = 12_000

_TERMINAL_PHASE = {
    RunStatus.COMPLETED: "COMPLETED",
    RunStatus.FAILED: "FAILED",
    RunStatus.ABORTED: "FAILED",  # a budget or policy stop: failed, its reason says which
    RunStatus.CANCELLED: "CANCELLED",
    RunStatus.INTERRUPTED: "INTERRUPTED",
    RunStatus.PAUSED: "PAUSED",
}


class LiveFold:
    """Per-step progress, streamed text and attempt starts, in seconds since the run began."""

    def __init__(self) -> None:
        self.progress: dict[str, dict[str, Any]] = {}
        self.stream: dict[str, str] = {}
        self.started: dict[str, float] = {}

    def on_step(self, rec: Record, t0: float) -> bool:
        """A STEP record: a new attempt resets its step's stream. True if anything changed."""
        if rec.step is None or rec.data.get("status") != StepStatus.RUNNING.value:
            return False
        self.started[rec.step] = round(rec.ts - t0, 3)
        self.stream.pop(rec.step, None)
        return True

    def on_event(self, rec: Record, t0: float) -> set[str]:
        """An EVENT record (live or logged): the names of the summaries it changed."""
        kind = rec.data.get("kind")
        key = rec.step or PLAN_KEY
        if kind == "token":
            text = str(rec.data.get("text") or "")
            if not text:
                return set()
            self.stream[key] = (self.stream.get(key, "") + text)[-STREAM_CAP:]
            return {"stream"}
        if kind == "progress":
            fraction = rec.data.get("fraction")
            metrics = rec.data.get("metrics")
            self.progress[key] = {
                "fraction": None if fraction is None else float(fraction),
                "message": str(rec.data.get("message") or ""),
                "metrics": dict(metrics) if isinstance(metrics, Mapping) else {},
                "t": round(rec.ts - t0, 3),
            }
            return {"progress"}
        return set()


def phase_of(state: RunState) -> str:
    """The header's state: what the run is doing now, in the words the user needs."""
    done = _TERMINAL_PHASE.get(state.status)
    if done is not None:
        return done
    steps = {k: v for k, v in state.steps.items() if k != PLAN_STEP}
    if state.plan is None or state.status is RunStatus.PLANNING:
        return "PLANNING"
    waiting = any(s.status is StepStatus.WAITING_APPROVAL for s in steps.values())
    running = any(s.status is StepStatus.RUNNING for s in steps.values())
    if waiting and not running:
        return "WAITING_FOR_APPROVAL"
    return "RUNNING"


def errors_of(state: RunState) -> dict[str, dict[str, Any]]:
    """Step id -> its last failure, for steps not (yet) committed after it."""
    plan = state.plan
    out: dict[str, dict[str, Any]] = {}
    for sid, st in state.steps.items():
        f = st.failure
        if f is None or st.status is StepStatus.COMMITTED:
            continue
        message, _, rest = f.message.partition("\n")
        retried = st.attempt > f.attempt or st.status in (
            StepStatus.RETRY_WAIT,
            StepStatus.READY,
            StepStatus.RUNNING,
        )
        why = ""
        if not retried:
            spec = plan.step(sid) if plan is not None and sid in plan.step_ids else None
            why = why_not_retried(spec.retry if spec is not None else None, f)
        out[sid] = {
            "type": f.type,
            "message": message,
            "traceback": rest[-_TRACEBACK_CAP:],
            "attempt": f.attempt,
            "retried": retried,
            "why_not_retried": why,
        }
    return out


def waiting_reason(st: StepState) -> str:
    """Why a step waits for approval, in plain words ('' when it does not wait)."""
    if st.status is not StepStatus.WAITING_APPROVAL:
        return ""
    reason = st.reason or ""
    if reason.startswith("in doubt"):
        return (
            "This step was running when the run stopped, and its side effect may already "
            "have happened: nobody can tell whether it did. Approve to do it again (what the "
            "step had already finished is not repeated), or deny to fail the step. "
            f"({reason})"
        )
    return "This step asks for your approval before it runs: approve or deny it."


def shown_reason(st: StepState) -> str:
    """A step's reason only where it still describes the step (never a stale one)."""
    if st.status in (StepStatus.SKIPPED, StepStatus.CANCELLED, StepStatus.FAILED):
        return st.failure.message if st.failure is not None else (st.reason or "")
    if st.status is StepStatus.RETRY_WAIT and st.failure is not None:
        return st.failure.message
    return ""


def is_live_event(rec: Record, last_seq: int) -> bool:
    """An EVENT published without being logged (it repeats the last logged seq)."""
    return rec.type is RecordType.EVENT and rec.seq <= last_seq
