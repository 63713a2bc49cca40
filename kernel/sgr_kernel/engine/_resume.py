"""Resuming a stopped run's schedule: which pending steps are dead, and what to do with a step
that was RUNNING when the process died (an attempt in doubt)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sgr_kernel.engine.journal import RunJournal
from sgr_kernel.models.status import StepStatus
from sgr_kernel.trace.state import RecordedCall, StepState

__all__ = ["failed_parent", "has_side_effect", "recover_in_doubt"]

S = StepStatus

_SAFE_HTTP = frozenset({"GET", "HEAD", "OPTIONS"})


def failed_parent(parents: Iterable[str], steps: Mapping[str, StepState]) -> str | None:
    """The first parent that ended without committing (its child can never run), if any."""
    for p in parents:
        status = steps[p].status
        if status.terminal and status is not S.COMMITTED:
            return p
    return None


def has_side_effect(call: RecordedCall) -> bool:
    """Whether doing ``call`` again could repeat something outside the run."""
    if call.kind in ("llm", "remote"):  # no effect; a remote job re-attaches by its key
        return False
    if call.kind == "http":
        return str((call.request or {}).get("method", "")).upper() not in _SAFE_HTTP
    return True


def recover_in_doubt(journal: RunJournal, sid: str, st: StepState, *, idempotent: bool) -> bool:
    """Continue the attempt of a step that was RUNNING when the process died.

    What it finished is served from the log; an effect it had started with no logged outcome
    is re-run only when that cannot repeat it (idempotent step, no side effect, a remote job
    that re-attaches by key). Returns True when the step is READY again, False when it now
    waits for a human to say (WAITING_APPROVAL, with the reason).
    """
    doubtful = [c for c in st.calls.values() if c.open and has_side_effect(c)]
    if not st.calls and st.open_intents:  # logged before calls were kept: assume the worst
        doubtful = [RecordedCall(0, "effect")]
    if idempotent or not doubtful:
        journal.step_status(sid, S.RETRY_WAIT, attempt=st.attempt, reason="interrupted; re-run")
        journal.step_status(sid, S.READY, attempt=st.attempt)
        return True
    call = doubtful[0]
    what = f"its {call.kind} call #{call.n}" if call.n else "a side effect"
    journal.step_status(sid, S.RETRY_WAIT, attempt=st.attempt, reason="interrupted")
    journal.step_status(
        sid,
        S.WAITING_APPROVAL,
        via=(S.READY,),
        attempt=st.attempt,
        durable=True,
        reason=f"in doubt: {what} had started when the run stopped, and whether it "
        "happened is unknown; approve to do it again (what the step had finished is not "
        "repeated), deny to fail the step",
    )
    return False
