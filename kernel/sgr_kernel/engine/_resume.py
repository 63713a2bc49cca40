"""Resuming a stopped run's schedule: which steps are ready, waiting or dead, and what to do
with a step that was RUNNING when the process died (an attempt in doubt)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sgr_kernel.engine._steering import Decision
from sgr_kernel.engine.journal import RunJournal
from sgr_kernel.graph.dag import Dag
from sgr_kernel.models.status import StepStatus
from sgr_kernel.trace.state import RecordedCall, StepState

__all__ = ["Schedule", "failed_parent", "has_side_effect", "rebuild_schedule", "recover_in_doubt"]

S = StepStatus
# Read for every step of a run when its schedule is built: as globals (an enum member read off
# its class costs ~100 ns on Python 3.11).
_PENDING, _READY, _COMMITTED = S.PENDING, S.READY, S.COMMITTED
_DEAD = frozenset(s for s in StepStatus if s.terminal and s is not S.COMMITTED)
"""Ended without committing: a child of such a step can never run."""

_SAFE_HTTP = frozenset({"GET", "HEAD", "OPTIONS"})


def failed_parent(parents: Iterable[str], steps: Mapping[str, StepState]) -> str | None:
    """The first parent that ended without committing (its child can never run), if any."""
    for p in parents:
        if steps[p].status in _DEAD:
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


@dataclass
class Schedule:
    """What :func:`rebuild_schedule` found, beside the steps it made ready."""

    missing: dict[str, int]
    """Parents of each step not yet committed (a step is ready at zero)."""
    carry: dict[str, dict[int, RecordedCall]] = field(default_factory=dict)
    """Steps cut short: the calls their interrupted attempt finished, served from the log."""
    waiting: list[str] = field(default_factory=list)
    """Steps waiting for a human decision."""
    decisions: dict[str, Decision] = field(default_factory=dict)
    """Decisions logged but not applied (the process died in between)."""


def rebuild_schedule(
    journal: RunJournal,
    dag: Dag,
    steps: Mapping[str, StepState],
    *,
    live: bool,
    idempotent: Callable[[str], bool],
    ready: Callable[[str], None],
) -> Schedule:
    """The schedule of a run from its state, in plan order: ``ready`` is called for each step
    that may launch; dead steps are SKIPPED, steps cut short are recovered (see
    :func:`recover_in_doubt`). ``live``: carry interrupted attempts' finished calls over."""
    got = Schedule({sid: len(ps) for sid, ps in dag.parents.items()})
    missing, parents = got.missing, dag.parents
    for sid in dag.order:
        if steps[sid].status is _COMMITTED:
            for child in dag.children[sid]:
                missing[child] -= 1
    for sid in dag.order:
        st = steps[sid]
        if st.calls and live and not st.status.terminal:
            got.carry[sid] = dict(st.calls)
        if st.status is _PENDING:
            if missing[sid] == 0:  # every parent committed
                ready(sid)
            elif (bad := failed_parent(parents[sid], steps)) is not None:
                journal.step_status(sid, S.SKIPPED, reason=f"upstream step {bad!r} failed")
        elif st.status is _READY:
            ready(sid)
        elif st.status is S.RETRY_WAIT:
            journal.step_status(sid, S.READY, attempt=st.attempt)
            ready(sid)
        elif st.status is S.RUNNING:
            if recover_in_doubt(journal, sid, st, idempotent=idempotent(sid)):
                ready(sid)
            else:
                got.waiting.append(sid)
        elif st.status is S.WAITING_APPROVAL:
            got.waiting.append(sid)
            if st.approval is not None:  # decided, then crashed before it was applied
                got.decisions[sid] = (st.approval, st.approval_by, st.approval_reason)
    return got
