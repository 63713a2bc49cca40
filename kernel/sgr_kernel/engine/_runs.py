"""Opening runs in the store, and steering runs that are not live in this kernel.

A run is opened for writing under its lock; one whose creation never became durable is
refused (nothing written). A decision or cancel for a run this kernel does not drive is
recorded into its log when it is stopped (``resume`` applies it), or posted to its inbox when
another process holds it live (that process records and applies it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sgr_kernel.engine._handles import Delivery, RunResult, result_of
from sgr_kernel.engine.base import Clock, Entropy
from sgr_kernel.engine.journal import RunJournal
from sgr_kernel.errors import ApprovalError, RunNotCreatedError, RunNotFoundError, TraceLockedError
from sgr_kernel.models.plan import Plan
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace import inbox
from sgr_kernel.trace.base import Durability, RecordType, TraceStore, TraceWriter
from sgr_kernel.trace.checkpoint import CheckpointManager, Resumed
from sgr_kernel.trace.state import RunState

__all__ = ["RunStore", "check_waiting"]


class RunStore:
    """The kernel's door to its runs on disk: open, load, and steer stopped or remote runs."""

    def __init__(
        self,
        store: TraceStore,
        checkpoints: CheckpointManager[RunState],
        clock: Clock,
        entropy: Entropy,
    ) -> None:
        self.store = store
        self.checkpoints = checkpoints
        self._clock = clock
        self._entropy = entropy

    def require(self, run_id: str) -> None:
        if not self.store.exists(run_id):
            raise RunNotFoundError(run_id, str(self.store.root))

    def journal(self, run_id: str, writer: TraceWriter, state: RunState) -> RunJournal:
        checkpoints = self.checkpoints

        def hook(state: RunState, seq: int, crc: int | None) -> int:
            checkpoints.after_seq(run_id, state, seq, crc)
            return checkpoints.due_seq(run_id)

        return RunJournal(writer, state, self._clock, checkpoint=hook)

    def create(
        self,
        created: dict[str, Any],
        *,
        plan: Plan | None,
        inherited: Mapping[str, dict[str, Any]] | None,
        durability: Durability,
    ) -> RunJournal:
        """Create a run: its ``run_created`` record (durable: the run exists from here), PLANNED
        when it came with a plan (``created["plan"]`` is its JSON), and the steps a fork
        inherits, committed."""
        run_id = str(created["run_id"])
        state, writer = self.checkpoints.create(run_id, durability=durability)
        journal = self.journal(run_id, writer, state)
        if plan is not None:
            state.expect_plan(plan, created["plan"])
        journal.append(RecordType.RUN_CREATED, created, durable=True)
        if plan is not None:
            journal.run_status(RunStatus.PLANNED)
        for sid, output in (inherited or {}).items():
            journal.step_status(
                sid,
                StepStatus.COMMITTED,
                via=(StepStatus.READY, StepStatus.RUNNING),
                attempt=1,
                output=output,
                inherited=True,
            )
        return journal

    def open(self, run_id: str, *, durability: Durability) -> Resumed[RunState]:
        """Open a run for writing; refuses (writing nothing) one whose creation never became
        durable."""
        resumed = self.checkpoints.open(run_id, durability=durability)
        if not resumed.state.run_id:
            self.release(run_id, resumed.writer)
            raise RunNotCreatedError(run_id, str(self.store.root))
        return resumed

    def release(self, run_id: str, writer: TraceWriter) -> None:
        writer.close()
        self.checkpoints.forget(run_id)

    def load(self, run_id: str) -> RunState:
        """The run's state from its snapshot and log (read-only)."""
        self.require(run_id)
        state = self.checkpoints.load(run_id)
        if not state.run_id:
            raise RunNotCreatedError(run_id, str(self.store.root))
        return state

    async def watch(
        self, run_id: str, done: Callable[[RunState], bool], *, timeout_s: float, poll_s: float
    ) -> RunResult:
        """Watch (read-only) a run live in another process until ``done(state)`` or timeout."""
        deadline = self._clock.monotonic() + timeout_s
        state = self.load(run_id)
        while not done(state) and self._clock.monotonic() < deadline:
            await self._clock.sleep(poll_s)
            state = self.load(run_id)
        return result_of(state)

    # ------------------------------------------------------------ steering elsewhere

    def post(self, run_id: str, action: inbox.Action, **kw: Any) -> None:
        stamp = f"{int(self._clock.now() * 1000):015d}-{self._entropy.new_id()[:12]}"
        inbox.post(self.store.run_dir(run_id), action, request_id=stamp, **kw)

    def decide(
        self,
        run_id: str,
        step_id: str,
        approved: bool,
        *,
        by: str,
        reason: str | None,
        durability: Durability,
    ) -> Delivery:
        """Record a decision into a stopped run's log, or post it to the process driving it."""
        self.require(run_id)
        try:
            resumed = self.open(run_id, durability=durability)
        except TraceLockedError:
            # Live in another process: post it; that process records and applies it.
            check_waiting(self.load(run_id), run_id, step_id)
            action: inbox.Action = "approve" if approved else "deny"
            self.post(run_id, action, step=step_id, by=by, reason=reason)
            return "posted"
        try:
            check_waiting(resumed.state, run_id, step_id)
            resumed.writer.append(
                RecordType.APPROVAL,
                {"approved": approved, "by": by, "reason": reason},
                step=step_id,
                ts=self._clock.now(),
                durable=True,
            )
        finally:
            self.release(run_id, resumed.writer)
        return "recorded"

    def cancel_stopped(self, resumed: Resumed[RunState], run_id: str, reason: str) -> RunResult:
        """Cancel a run that no process drives: its open steps and the run end CANCELLED."""
        journal = self.journal(run_id, resumed.writer, resumed.state)
        try:
            state = journal.state
            if not state.status.terminal:
                for sid, st in state.steps.items():
                    if not st.status.terminal:
                        journal.step_status(sid, StepStatus.CANCELLED, reason=reason)
                journal.run_status(RunStatus.CANCELLED, reason)
        finally:
            journal.sync()
            self.release(run_id, resumed.writer)
        return result_of(journal.state)


def check_waiting(state: RunState, run_id: str, step_id: str) -> None:
    """Raise ApprovalError unless ``step_id`` waits for a decision it has not had yet."""
    st = state.steps.get(step_id)
    if st is None:
        raise ApprovalError(f"run {run_id!r} has no step {step_id!r}")
    if st.status is StepStatus.WAITING_APPROVAL and st.approval is not None:
        verdict = "approved" if st.approval else "denied"
        raise ApprovalError(
            f"step {step_id!r} of run {run_id!r} was already {verdict} by "
            f"{st.approval_by or 'someone'}; the run applies it when it continues "
            f"(`sgr resume {run_id}`)"
        )
    if st.status is not StepStatus.WAITING_APPROVAL:
        raise ApprovalError(
            f"step {step_id!r} of run {run_id!r} is not waiting for approval "
            f"(it is {st.status.value})"
        )
