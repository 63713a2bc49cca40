"""The LifecycleEngine: event-driven DAG scheduling with bounded concurrency (docs/architecture.md).

A step starts as soon as every step it depends on has committed. Completions are handled in
batches: their records are appended, one ``sync`` makes them all durable (group commit), and
only then are dependents released and listeners told. A failed step's dependents become
SKIPPED; the run's final status is the truth. Replaying, the recorded launch order is the
schedule and every outcome is compared with the recording.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Mapping
from pathlib import Path

from sgr_kernel.engine._attempt import Outcome, execute_attempt
from sgr_kernel.engine._oracle import ReplayOracle
from sgr_kernel.engine.runtime import RunRuntime
from sgr_kernel.errors import (
    ApprovalDenied,
    ApprovalError,
    BudgetExceeded,
    ReplayDivergenceError,
    StepError,
)
from sgr_kernel.graph.dag import Dag
from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.models.plan import Plan, StepSpec
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.skills.base import Skill
from sgr_kernel.trace import inbox as inbox_files
from sgr_kernel.trace._crash import crashpoint
from sgr_kernel.trace.base import RecordType
from sgr_kernel.trace.state import RecordedCall, RunState

__all__ = ["INBOX_POLL_S", "LifecycleEngine"]

INBOX_POLL_S = 0.25
"""How often a live run looks for decisions posted by other processes."""

S = StepStatus


class LifecycleEngine:
    """Runs one plan for one run. Create, then ``await run()``; steer with approve/deny/cancel
    from the run's event-loop thread."""

    def __init__(
        self,
        rt: RunRuntime,
        plan: Plan,
        dag: Dag,
        skills: Mapping[str, type[Skill]],
        *,
        pause_when_waiting: bool = False,
        inbox: Path | None = None,
    ) -> None:
        self.rt = rt
        # The run directory whose inbox other processes post decisions to (live runs only).
        self._inbox = inbox
        self._inbox_due = inbox is not None
        self._inbox_applied: dict[str, list[inbox_files.InboxRequest]] = {}
        self._inbox_cancels: list[inbox_files.InboxRequest] = []
        self._ticker: asyncio.TimerHandle | None = None
        self.plan = plan
        self.dag = dag
        self.skills = skills
        self.pause_when_waiting = pause_when_waiting
        self._specs = {s.id: s for s in plan.steps}
        self._missing = {sid: len(ps) for sid, ps in dag.parents.items()}
        """Parents of each step not yet committed (a step is ready at zero)."""
        self._pos = {sid: i for i, sid in enumerate(dag.order)}
        self._ready: list[tuple[int, str]] = []
        self._queued: set[str] = set()
        # Tasks report back through these lists and one event, so a turn costs O(completions),
        # not O(running tasks) as asyncio.wait would.
        self._running: dict[asyncio.Task[None], str] = {}
        self._timers: dict[asyncio.Task[None], str] = {}
        self._finished: list[Outcome] = []
        self._expired: list[str] = []
        self._waiting: set[str] = set()
        self._decisions: dict[str, tuple[bool, str | None, str | None]] = {}
        self._wakeup = asyncio.Event()
        self._cancel_reason: str | None = None
        self._abort: BudgetExceeded | None = None
        self._divergence: ReplayDivergenceError | None = None
        self._oracle = ReplayOracle(rt.recorded) if rt.replaying and rt.recorded else None
        self._carry: dict[str, dict[int, RecordedCall]] = {}
        """Resumed steps: the calls their interrupted attempt finished, served from the log."""
        self.recording_ended = False
        """Replay only: the recording stopped here (the original crashed, paused or stopped)."""

    # ------------------------------------------------------------ steering

    @property
    def state(self) -> RunState:
        return self.rt.journal.state

    def waiting(self) -> list[str]:
        return sorted(self._waiting, key=self._pos.__getitem__)

    def decide(self, step_id: str, approved: bool, *, by: str, reason: str | None = None) -> None:
        """Approve or deny a waiting step. Raises ApprovalError when it is not waiting."""
        st = self.state.steps.get(step_id)
        if st is None:
            raise ApprovalError(f"run {self.rt.run_id!r} has no step {step_id!r}")
        if step_id in self._decisions:
            raise ApprovalError(
                f"step {step_id!r} is already decided; the decision is being applied"
            )
        if step_id not in self._waiting:
            raise ApprovalError(
                f"step {step_id!r} is not waiting for approval (it is {st.status.value})"
            )
        self._decisions[step_id] = (approved, by, reason)
        self._wakeup.set()

    def cancel(self, reason: str = "cancelled by the user") -> None:
        self._cancel_reason = reason
        self._wakeup.set()

    # ------------------------------------------------------------ the loop

    async def run(self) -> RunStatus:
        journal = self.rt.journal
        if self.state.status in (RunStatus.PLANNED, RunStatus.PAUSED, RunStatus.INTERRUPTED):
            journal.run_status(RunStatus.RUNNING)
        self._init_from_state()
        if self._inbox is not None:
            self._tick()
        try:
            await self._loop()
        finally:
            if self._ticker is not None:
                self._ticker.cancel()
            for task in (*self._running, *self._timers):
                task.cancel()
            journal.sync()
        if self._divergence is not None:
            raise self._divergence
        return RunStatus(self.state.status)

    # ------------------------------------------------------------ the inbox

    def _tick(self) -> None:
        """Wake the loop every INBOX_POLL_S to look at the inbox (one timer, not one per step)."""
        self._inbox_due = True
        self._wakeup.set()
        self._ticker = asyncio.get_running_loop().call_later(INBOX_POLL_S, self._tick)

    def _read_inbox(self) -> None:
        self._inbox_due = False
        assert self._inbox is not None
        for req in inbox_files.take(self._inbox):
            if req.action == "cancel":
                self.cancel(req.reason or f"cancelled by {req.by}")
                self._inbox_cancels.append(req)
                continue
            try:
                if req.step is None:
                    raise ApprovalError("an approve/deny request must name a step")
                self.decide(req.step, req.action == "approve", by=req.by, reason=req.reason)
            except ApprovalError as e:
                inbox_files.reject(req.path, str(e))
                continue
            self._inbox_applied.setdefault(req.step, []).append(req)

    def _push_ready(self, sid: str) -> None:
        if self._oracle is not None and self._replay_denial(sid):
            return
        if sid not in self._queued:  # a step with several parents is released once
            self._queued.add(sid)
            heapq.heappush(self._ready, (self._pos[sid], sid))

    def _parents_committed(self, sid: str) -> bool:
        return self._missing[sid] == 0

    def _idempotent(self, spec: StepSpec) -> bool:
        if spec.idempotent is not None:
            return spec.idempotent
        skill = self.skills.get(spec.skill)
        return True if skill is None else skill.idempotent

    def _init_from_state(self) -> None:
        journal = self.rt.journal
        for sid in self.dag.order:
            if self.state.steps[sid].status is S.COMMITTED:
                for child in self.dag.children[sid]:
                    self._missing[child] -= 1
        for sid in self.dag.order:
            st = self.state.steps[sid]
            if st.calls and not self.rt.replaying and not st.status.terminal:
                self._carry[sid] = dict(st.calls)
            if st.status is S.PENDING:
                bad = [
                    p
                    for p in self.dag.parents[sid]
                    if self.state.steps[p].status.terminal
                    and self.state.steps[p].status is not S.COMMITTED
                ]
                if bad:
                    journal.step_status(sid, S.SKIPPED, reason=f"upstream step {bad[0]!r} failed")
                elif self._parents_committed(sid):
                    self._push_ready(sid)
            elif st.status is S.READY:
                self._push_ready(sid)
            elif st.status is S.RETRY_WAIT:
                journal.step_status(sid, S.READY, attempt=st.attempt)
                self._push_ready(sid)
            elif st.status is S.RUNNING:
                self._recover_in_doubt(sid)
            elif st.status is S.WAITING_APPROVAL:
                self._waiting.add(sid)
                if st.approval is not None:  # decided, then crashed before it was applied
                    self._decisions[sid] = (st.approval, st.approval_by, st.approval_reason)

    def _recover_in_doubt(self, sid: str) -> None:
        """A step that was RUNNING when the process died: continue its attempt. What it
        finished is served from the log; an effect it had started with no logged outcome is
        re-run only when that cannot repeat it (idempotent step, no side effect, a remote job
        that re-attaches by key), else the step waits for a human to say."""
        journal = self.rt.journal
        st = self.state.steps[sid]
        spec = self._specs[sid]
        doubtful = [c for c in st.calls.values() if c.open and _has_side_effect(c)]
        if not st.calls and st.open_intents:  # logged before calls were kept: assume the worst
            doubtful = [RecordedCall(0, "effect")]
        if self._idempotent(spec) or not doubtful:
            journal.step_status(sid, S.RETRY_WAIT, attempt=st.attempt, reason="interrupted; re-run")
            journal.step_status(sid, S.READY, attempt=st.attempt)
            self._push_ready(sid)
            return
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
        self._waiting.add(sid)

    async def _loop(self) -> None:
        while True:
            if self._inbox_due:
                self._read_inbox()
            if self._divergence is not None:
                await self._stop(RunStatus.FAILED, f"replay diverged: {self._divergence}")
                return
            if self._cancel_reason is not None:
                await self._stop(RunStatus.CANCELLED, self._cancel_reason)
                return
            if self._abort is not None:
                await self._stop(RunStatus.ABORTED, str(self._abort))
                return
            self._apply_decisions()
            self._launch()
            if self._abort is not None or self._divergence is not None:
                continue  # the next turn stops the run
            busy = self._running or self._timers or self._finished or self._expired
            if self.recording_ended and not busy:
                return
            if not busy:
                if self._waiting and not self._decisions:
                    if self.pause_when_waiting or self.rt.replaying:
                        self.rt.journal.run_status(RunStatus.PAUSED, self._paused_reason())
                        return
                elif not self._ready and not self._decisions:
                    self._finish()
                    return
            await self._wait_and_handle()

    async def _wait_and_handle(self) -> None:
        if not self._finished and not self._expired:
            self._wakeup.clear()
            await self._wakeup.wait()
        committed: list[str] = []
        finished, self._finished = self._finished, []
        finished.sort(key=lambda oc: self._pos[oc.step])
        for oc in finished:
            self._handle(oc, committed)
        expired, self._expired = self._expired, []
        for sid in expired:
            self.rt.journal.step_status(sid, S.READY, attempt=self.state.steps[sid].attempt)
            self._push_ready(sid)
        # Group commit: one sync makes every record above durable before anything is released.
        self.rt.journal.sync()
        if committed:
            crashpoint("steps_acknowledged")
        for sid in committed:
            for child in self.dag.children[sid]:
                self._missing[child] -= 1
                if self._missing[child] == 0 and self.state.steps[child].status is S.PENDING:
                    self._push_ready(child)

    # ------------------------------------------------------------ launching

    def _next_ready(self) -> str | None:
        if not self.rt.replaying:
            if not self._ready:
                return None
            sid = heapq.heappop(self._ready)[1]
            self._queued.discard(sid)
            return sid
        oracle = self._oracle
        assert oracle is not None
        if oracle.exhausted:
            self.recording_ended = True
            return None
        ready = {entry[1] for entry in self._ready}
        idle = not self._running and not self._timers and not self._decisions
        try:
            chosen = oracle.next_launch(
                ready, idle=idle, attempt_of=lambda s: self.state.steps[s].attempt
            )
        except ReplayDivergenceError as e:
            self._divergence = e
            return None
        if chosen is not None:
            self._ready.remove((self._pos[chosen], chosen))
            heapq.heapify(self._ready)
            self._queued.discard(chosen)
        return chosen

    def _launch(self) -> None:
        limit = 1 if self.rt.replaying else self.rt.config.max_concurrency
        journal = self.rt.journal
        while self._ready and len(self._running) < limit and self._abort is None:
            if self._divergence is not None:
                return
            sid = self._next_ready()
            if sid is None:
                return
            spec = self._specs[sid]
            st = self.state.steps[sid]
            if spec.requires_approval and st.approval is not True and not self._gate(sid):
                continue
            elapsed = self.rt.elapsed_s()
            if self._oracle is not None:
                elapsed = self._oracle.elapsed_s(sid, st.attempt + 1)
            try:
                self.rt.budget.check_launch(elapsed)
            except BudgetExceeded as e:
                self._abort = e
                self._push_ready(sid)
                return
            attempt = st.attempt + 1
            via = (S.READY,) if st.status is S.PENDING else ()
            journal.step_status(
                sid, S.RUNNING, via=via, attempt=attempt, elapsed_s=round(elapsed, 6)
            )
            task = asyncio.ensure_future(self._attempt(spec, attempt))
            self._running[task] = sid

    def _paused_reason(self) -> str:
        steps = self.state.steps
        doubt = [s for s in self.waiting() if (steps[s].reason or "").startswith("in doubt")]
        reason = f"waiting for approval: {', '.join(self.waiting())}"
        if doubt:
            reason += f" (in doubt, may have had its side effect: {', '.join(doubt)})"
        return reason

    def _gate(self, sid: str) -> bool:
        """Approval gate for a ready step; True when it may launch now."""
        journal = self.rt.journal
        st = self.state.steps[sid]
        if self.rt.replaying:
            assert self.rt.recorded is not None
            decision = self.rt.recorded.approvals.get(sid)
            if decision is None:
                return True  # the launch order says it ran; the divergence check covers it
            journal.append(
                RecordType.APPROVAL,
                {"approved": decision[0], "by": decision[1], "reason": decision[2]},
                step=sid,
            )
            return True
        if self.rt.config.approval_mode == "auto":
            journal.append(
                RecordType.APPROVAL,
                {"approved": True, "by": "auto", "reason": "approval_mode=auto"},
                step=sid,
                durable=True,
            )
            return True
        via = (S.READY,) if st.status is S.PENDING else ()
        journal.step_status(
            sid,
            S.WAITING_APPROVAL,
            via=via,
            attempt=st.attempt,
            durable=True,
            reason="requires approval",
        )
        self._waiting.add(sid)
        return False

    def _replay_denial(self, sid: str) -> bool:
        """Replay: a step the recording denied never launched, so the launch order cannot
        bring it to the gate; the recorded denial is applied as soon as it is ready."""
        assert self._oracle is not None
        decision = self._oracle.recorded.approvals.get(sid)
        if decision is None or decision[0] or not self._specs[sid].requires_approval:
            return False
        st = self.state.steps[sid]
        via = (S.READY,) if st.status is S.PENDING else ()
        self.rt.journal.step_status(
            sid, S.WAITING_APPROVAL, via=via, attempt=st.attempt, reason="requires approval"
        )
        self._waiting.add(sid)
        self._decisions[sid] = decision
        return True

    def _apply_decisions(self) -> None:
        journal = self.rt.journal
        for sid, (approved, by, reason) in sorted(self._decisions.items()):
            st = self.state.steps[sid]
            if st.approval is None:
                journal.append(
                    RecordType.APPROVAL,
                    {"approved": approved, "by": by, "reason": reason},
                    step=sid,
                    durable=True,
                )
            self._waiting.discard(sid)
            if approved:
                journal.step_status(sid, S.READY, attempt=st.attempt)
                self._push_ready(sid)
            else:
                err = ApprovalDenied(f"denied by {by}" + (f": {reason}" if reason else ""))
                failure = FailureRecord.from_exception(err, max(st.attempt, 1))
                journal.step_status(
                    sid, S.FAILED, attempt=st.attempt, failure=failure.model_dump(), durable=True
                )
                self._skip_descendants(sid)
            for req in self._inbox_applied.pop(sid, []):
                inbox_files.done(req)  # only now that the decision is in the log
        self._decisions.clear()

    # ------------------------------------------------------------ executing

    async def _attempt(self, spec: StepSpec, attempt: int) -> None:
        steps = self.state.steps
        outputs = {p: steps[p].output for p in self.dag.parents[spec.id]}
        skill = self.skills[spec.skill]
        carry = self._carry.pop(spec.id, None)
        outcome = await execute_attempt(self.rt, spec, skill, attempt, outputs, carry=carry)
        self._running.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
        self._finished.append(outcome)
        self._wakeup.set()

    # ------------------------------------------------------------ outcomes

    def _handle(self, oc: Outcome, committed: list[str]) -> None:
        journal = self.rt.journal
        spec = self._specs[oc.step]
        if oc.interrupted:
            self._replay_interruption(oc)
            return
        if self._oracle is not None:
            divergence = self._oracle.check(oc)
            if divergence is not None:
                self._divergence = divergence
                return
        if oc.error is None:
            journal.step_status(
                oc.step, S.COMMITTED, attempt=oc.attempt, output=oc.output, deferred=True
            )
            committed.append(oc.step)
            return
        err = oc.error
        if isinstance(err, ReplayDivergenceError):
            self._divergence = err
            return
        if isinstance(err, StepError):
            err.run_id, err.step_id, err.attempt = self.rt.run_id, oc.step, oc.attempt
        in_doubt = oc.in_doubt and not self._idempotent(spec)
        if in_doubt:
            err = self.rt.reliability.in_doubt_error(err)
        delay = None
        if not isinstance(err, BudgetExceeded):
            delay = self.rt.reliability.next_delay(spec.retry, err, oc.attempt, in_doubt=in_doubt)
        failure = FailureRecord.from_exception(err, oc.attempt).model_dump()
        if delay is not None:
            journal.step_status(
                oc.step, S.RETRY_WAIT, attempt=oc.attempt, failure=failure, delay_s=delay
            )
            timer = asyncio.ensure_future(self._sleep(oc.step, delay))
            self._timers[timer] = oc.step
            return
        journal.step_status(oc.step, S.FAILED, attempt=oc.attempt, failure=failure, durable=True)
        self._skip_descendants(oc.step)
        if isinstance(err, BudgetExceeded):
            self._abort = err

    def _replay_interruption(self, oc: Outcome) -> None:
        journal = self.rt.journal
        rec = self.rt.recorded
        assert rec is not None
        attempt = rec.attempts.get((oc.step, oc.attempt))
        if attempt is None or attempt.outcome is None:
            self.recording_ended = True  # the recording stops inside this attempt
            journal.step_status(oc.step, S.RETRY_WAIT, attempt=oc.attempt, reason="interrupted")
            return
        journal.step_status(oc.step, S.RETRY_WAIT, attempt=oc.attempt, reason="interrupted; re-run")
        journal.step_status(oc.step, S.READY, attempt=oc.attempt)
        decision = rec.approvals.get(oc.step)
        if decision is not None and not self._specs[oc.step].requires_approval and not decision[0]:
            journal.step_status(oc.step, S.WAITING_APPROVAL, attempt=oc.attempt, reason="in doubt")
            self._decisions[oc.step] = decision
            self._waiting.add(oc.step)
            return
        self._push_ready(oc.step)

    async def _sleep(self, sid: str, delay: float) -> None:
        await self.rt.services.clock.sleep(delay)
        self._timers.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
        self._expired.append(sid)
        self._wakeup.set()

    def _skip_descendants(self, sid: str) -> None:
        for d in sorted(self.dag.descendants(sid), key=self._pos.__getitem__):
            if self.state.steps[d].status is S.PENDING:
                self.rt.journal.step_status(d, S.SKIPPED, reason=f"upstream step {sid!r} failed")

    async def _stop(self, status: RunStatus, reason: str) -> None:
        for task in (*self._running, *self._timers):
            task.cancel()
        await asyncio.gather(*self._running, *self._timers, return_exceptions=True)
        self._running.clear()
        self._timers.clear()
        self._finished.clear()
        self._expired.clear()
        journal = self.rt.journal
        for sid in self.dag.order:
            st = self.state.steps[sid]
            if not st.status.terminal:
                journal.step_status(sid, S.CANCELLED, attempt=st.attempt, reason=reason)
        journal.run_status(status, reason)
        for req in self._inbox_cancels:
            inbox_files.done(req)

    def _finish(self) -> None:
        steps = self.state.steps
        failed = [s for s in self.dag.order if steps[s].status is S.FAILED]
        open_steps = [s for s in self.dag.order if not steps[s].status.terminal]
        if open_steps:  # never silently COMPLETED: a stall is a failure with its reason
            self.rt.journal.run_status(
                RunStatus.FAILED, f"scheduler stalled with steps {open_steps} not finished"
            )
        elif failed:
            f = steps[failed[0]].failure
            why = f"{f.type}: {f.message}" if f else "failed"
            self.rt.journal.run_status(RunStatus.FAILED, f"step {failed[0]!r} failed: {why}")
        else:
            self.rt.journal.run_status(RunStatus.COMPLETED)


_SAFE_HTTP = frozenset({"GET", "HEAD", "OPTIONS"})


def _has_side_effect(call: RecordedCall) -> bool:
    """Whether doing ``call`` again could repeat something outside the run."""
    if call.kind in ("llm", "remote"):  # no effect; a remote job re-attaches by its key
        return False
    if call.kind == "http":
        return str((call.request or {}).get("method", "")).upper() not in _SAFE_HTTP
    return True
