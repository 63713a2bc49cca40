"""The LifecycleEngine: event-driven DAG scheduling with bounded concurrency (docs/architecture.md).

A step starts as soon as every step it depends on has committed. Completions are handled in
batches: their records are appended, one ``sync`` makes them all durable (group commit), and
only then are dependents released and listeners told. A failed step's dependents become
SKIPPED; the run's final status is the truth.

Two collaborators keep the scheduler a scheduler: a :class:`~sgr_kernel.engine._launch.LaunchSource`
picks which ready step launches next and judges outcomes (live: plan order; strict replay: the
recorded order, every outcome compared), and :class:`~sgr_kernel.engine._steering.Steering`
carries the human input (approve/deny, cancel, the inbox of other processes).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from sgr_kernel.engine import _resume, _verdicts
from sgr_kernel.engine._approvals import ApprovalGate
from sgr_kernel.engine._attempt import Attempts, Outcome
from sgr_kernel.engine._launch import LaunchSource, ReadyQueue
from sgr_kernel.engine._steering import INBOX_POLL_S, Steering
from sgr_kernel.engine._turns import RetryTimers, TurnGate
from sgr_kernel.engine.runtime import RunRuntime
from sgr_kernel.errors import (
    BudgetExceeded,
    ReplayDivergenceError,
)
from sgr_kernel.graph.dag import Dag
from sgr_kernel.models.plan import Plan, StepSpec
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.skills.base import Skill
from sgr_kernel.trace._crash import crashpoint
from sgr_kernel.trace.state import RunState

__all__ = ["INBOX_POLL_S", "LifecycleEngine"]

S = StepStatus
# The members a step's path reads, as module globals: on Python 3.11 reading an enum member
# off its class costs ~100 ns more than reading a global, and the path reads several a step.
_PENDING, _READY = S.PENDING, S.READY
_INLINE_RUN = 32
"""Attempts one task runs after its own before it gives the loop an iteration (ADR 034)."""
_Ending = Literal["stop", "pause", "finish", "ended"]
"""How a run's scheduling ends: stopped (divergence, cancel, abort), paused for approvals,
finished (every step ended), or the replayed recording ended."""


class LifecycleEngine:
    """Runs one plan for one run. Create, then ``await run()``; steer with decide/cancel
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
        source: LaunchSource | None = None,
    ) -> None:
        self.rt = rt
        self.state: RunState = rt.journal.state
        """The run's state, which the journal folds every record into."""
        self.plan = plan
        self.dag = dag
        self.skills = skills
        self.source = source or LaunchSource(rt.config.max_concurrency)
        self.pause_when_waiting = pause_when_waiting or self.source.pauses_when_waiting
        self._turns = TurnGate(rt.journal)
        self.steering = Steering(self._turns.wake, inbox if self.source.live else None)
        self._specs = {s.id: s for s in plan.steps}
        self._missing: dict[str, int] = {}
        """Parents of each step not yet committed (a step is ready at zero)."""
        self._pos = {sid: i for i, sid in enumerate(dag.order)}
        self._ready = ReadyQueue(self._pos)
        # Tasks report back through these lists and one wake-up: a turn is O(completions).
        self._running: dict[str, asyncio.Task[None]] = {}
        """Step id -> the task running its attempt."""
        self._attempts = Attempts(rt, dag, skills)
        self._retries = RetryTimers(rt.services.clock, self._turns.wake)
        self._finished: list[Outcome] = []
        self._approvals = ApprovalGate(
            rt.journal,
            self.steering,
            self.source,
            self._pos,
            auto=rt.config.approval_mode == "auto",
        )
        self._waiting = self._approvals.waiting
        self._abort: BudgetExceeded | None = None
        self._divergence: ReplayDivergenceError | None = None
        self._context = contextvars.Context()
        """The scheduler's context (at :meth:`run`): every task it starts runs in a copy."""
        self._inline = False
        """In a turn an ending attempt took: its task may run the first attempt launched."""
        self._next: tuple[StepSpec, int] | None = None
        """That attempt, handed to the ending attempt's task."""

    # ------------------------------------------------------------ steering

    @property
    def recording_ended(self) -> bool:
        """Replay only: the recording stopped here (the original crashed, paused or stopped)."""
        return self.source.ended

    def waiting(self) -> list[str]:
        return self._approvals.sorted_waiting()

    def decide(self, step_id: str, approved: bool, *, by: str, reason: str | None = None) -> None:
        """Approve or deny a waiting step. Raises ApprovalError when it is not waiting."""
        self._approvals.check(self.rt.run_id, step_id)
        self.steering.decide(step_id, (approved, by, reason))

    def _decide_posted(self, step_id: str, approved: bool, by: str, reason: str | None) -> None:
        self.decide(step_id, approved, by=by, reason=reason)

    def cancel(self, reason: str = "cancelled by the user") -> None:
        self.steering.cancel(reason)

    # ------------------------------------------------------------ the loop

    async def run(self) -> RunStatus:
        journal = self.rt.journal
        self._context = contextvars.copy_context()
        if self.state.status in (RunStatus.PLANNED, RunStatus.PAUSED, RunStatus.INTERRUPTED):
            journal.run_status(RunStatus.RUNNING)
        self._init_from_state()
        self.steering.start()
        journal.hold()
        try:
            await self._loop()
        finally:
            journal.release()
            self.steering.stop()
            for task in self._running.values():
                task.cancel()
            self._retries.cancel()
            journal.sync()
        if self._divergence is not None:
            raise self._divergence
        return RunStatus(self.state.status)

    def _init_from_state(self) -> None:
        """Rebuild the schedule from the state (a fresh run, or one resumed after a stop)."""
        got = _resume.rebuild_schedule(
            self.rt.journal,
            self.dag,
            self.state.steps,
            live=self.source.live,
            idempotent=self._idempotent,
            ready=self._push_ready,
        )
        self._missing, self._attempts.carry = got.missing, got.carry
        self._waiting.update(got.waiting)
        self.steering.decisions.update(got.decisions)

    async def _loop(self) -> None:
        while (ending := self._turn()) is None:
            if not self._finished and not self._retries.expired:
                await self._turns.sleep()
            self._handle_turn()
        await self._end(ending)

    def _turn(self) -> _Ending | None:
        """Apply what steering brought, launch what may launch; how the run ends, or None to
        wait for the next outcome. Ends nothing itself: that is :meth:`_end`'s, the loop's."""
        steering = self.steering
        while True:
            if steering.inbox_due:
                steering.read_inbox(self._decide_posted)
            if (
                self._divergence is not None
                or self._abort is not None
                or steering.cancel_reason is not None
            ):
                return "stop"
            if steering.decisions:
                self._apply_decisions()
            if self._ready:
                self._launch()
                if self._abort is not None or self._divergence is not None:
                    continue  # the next pass stops the run
            if self._running or self._retries or self._finished:
                return None
            if self.source.ended:
                return "ended"
            if self._waiting and not steering.decisions:
                return "pause" if self.pause_when_waiting else None
            if not self._ready and not steering.decisions:
                return "finish"
            return None

    def _turn_taken(self) -> bool:
        """The turn as an ending attempt takes it (see ``_attempt``); True: wake the loop."""
        self._handle_turn()
        return self._turn() is not None

    async def _end(self, ending: _Ending) -> None:
        journal, steps = self.rt.journal, self.state.steps
        if ending == "finish":  # never silently COMPLETED: see final_status
            journal.run_status(*_verdicts.final_status(self.dag.order, steps))
        elif ending == "pause":
            journal.run_status(RunStatus.PAUSED, _verdicts.paused_reason(self.waiting(), steps))
        elif ending == "stop":
            if self._divergence is not None:
                await self._stop(RunStatus.FAILED, f"replay diverged: {self._divergence}")
            elif self.steering.cancel_reason is not None:
                await self._stop(RunStatus.CANCELLED, self.steering.cancel_reason)
            else:
                await self._stop(RunStatus.ABORTED, str(self._abort))

    def _handle_turn(self) -> None:
        """What woke the scheduler: finished attempts, expired retry timers; then the commit
        barrier, and the children of what committed become ready."""
        journal = self.rt.journal
        committed: list[str] = []
        if self._finished:
            finished, self._finished = self._finished, []
            if len(finished) > 1:
                finished.sort(key=lambda oc: self._pos[oc.step])
            for oc in finished:
                self._handle(oc, committed)
        if self._retries.expired:
            for sid in self._retries.take_expired():
                journal.step_status(sid, S.READY, attempt=self.state.steps[sid].attempt)
                self._push_ready(sid)
        # Group commit: one sync makes every record above durable before anything is released.
        journal.sync()
        if committed:
            crashpoint("steps_acknowledged")
        missing, children, steps = self._missing, self.dag.children, self.state.steps
        for sid in committed:
            for child in children[sid]:
                missing[child] -= 1
                if missing[child] == 0 and steps[child].status is _PENDING:
                    self._push_ready(child)

    # ------------------------------------------------------------ launching

    def _push_ready(self, sid: str) -> None:
        denial = self.source.denial(sid)
        if denial is not None:
            self._approvals.wait_for(sid, "requires approval", durable=False)
            self.steering.decisions[sid] = denial
            return
        self._ready.push(sid)

    def _idempotent(self, sid: str) -> bool:
        spec = self._specs[sid]
        if spec.idempotent is not None:
            return spec.idempotent
        skill = self.skills.get(spec.skill)
        return True if skill is None else skill.idempotent

    def _launch(self) -> None:
        source, journal, steps = self.source, self.rt.journal, self.state.steps
        limit = source.limit
        create_task = asyncio.get_running_loop().create_task
        while self._ready and len(self._running) < limit and self._abort is None:
            idle = not self._running and not self._retries.tasks and not self.steering.decisions
            try:
                sid = source.next(self._ready, idle=idle, attempt_of=self._attempt_of)
            except ReplayDivergenceError as e:
                self._divergence = e
                return
            if sid is None:
                return
            spec = self._specs[sid]
            st = steps[sid]
            if (
                spec.requires_approval
                and st.approval is not True
                and not self._approvals.admit(sid)
            ):
                continue
            attempt = st.attempt + 1
            elapsed = source.elapsed_s(sid, attempt)
            if elapsed is None:
                elapsed = self.rt.elapsed_s()
            try:
                self.rt.budget.check_launch(elapsed)
            except BudgetExceeded as e:
                self._abort = e
                self._push_ready(sid)
                return
            journal.step_launched(
                sid,
                attempt,
                int(elapsed * 1e6) / 1e6,  # whole µs: round() costs 6x more
                via=(_READY,) if st.status is _PENDING else (),
            )
            if self._inline:  # the ending attempt's task runs this one next (see _attempt)
                self._inline, self._next = False, (spec, attempt)
                self._running[sid] = asyncio.current_task()  # type: ignore[assignment]
                continue
            # Each attempt in a copy of the scheduler's context, wherever the turn runs: a turn
            # taken by an ending attempt must not hand its skill's context variables on.
            self._running[sid] = create_task(
                self._attempt(spec, attempt), context=self._context.copy()
            )

    def _attempt_of(self, sid: str) -> int:
        return self.state.steps[sid].attempt

    def _apply_decisions(self) -> None:
        self._approvals.apply(self._push_ready, self._skip_descendants)

    # ------------------------------------------------------------ executing

    async def _attempt(self, spec: StepSpec, attempt: int) -> None:
        """Run an attempt in this task; then, when it ended alone and took the turn, maybe the
        attempt that turn launched, and so on (ADR 034): a chain of steps that never wait
        runs in one task instead of a task and a loop iteration each."""
        inline = _INLINE_RUN
        while True:
            outcome = await self._attempts.start(spec, attempt)
            self._running.pop(spec.id, None)
            self._finished.append(outcome)
            if self._running:
                self._turns.wake()
                return
            # Ended alone: no other outcome could share its commit, so it takes the turn. The
            # first attempt that turn launches may run here next, unless the loop is owed an
            # iteration or this task's context is no longer a fresh copy of the scheduler's
            # (a skill set a context variable: the next attempt must not see it).
            self._inline = inline > 0 and contextvars.copy_context() == self._context
            ran = self._turns.take(self._turn_taken)
            nxt, self._inline, self._next = self._next, False, None
            if not ran or nxt is None:
                return
            spec, attempt = nxt
            inline -= 1

    # ------------------------------------------------------------ outcomes

    def _handle(self, oc: Outcome, committed: list[str]) -> None:
        journal = self.rt.journal
        if oc.interrupted:
            self._interrupted(oc)
            return
        divergence = self.source.judge(oc)
        if divergence is not None:
            self._divergence = divergence
            return
        if oc.error is None:
            journal.step_committed(oc.step, oc.attempt, oc.output, deferred=True)
            committed.append(oc.step)
            return
        if isinstance(oc.error, ReplayDivergenceError):
            self._divergence = oc.error
            return
        verdict = _verdicts.failed_attempt(
            self.rt.reliability,
            self.rt.run_id,
            self._specs[oc.step],
            oc,
            idempotent=self._idempotent(oc.step),
        )
        if verdict.delay_s is not None:
            journal.step_status(
                oc.step,
                S.RETRY_WAIT,
                attempt=oc.attempt,
                failure=verdict.failure,
                delay_s=verdict.delay_s,
            )
            self._retries.start(oc.step, verdict.delay_s, self._context.copy())
            return
        journal.step_status(
            oc.step, S.FAILED, attempt=oc.attempt, failure=verdict.failure, durable=True
        )
        self._skip_descendants(oc.step)
        if verdict.abort is not None:
            self._abort = verdict.abort

    def _interrupted(self, oc: Outcome) -> None:
        verdict = self.source.interrupted(oc)
        if verdict is True:
            self._push_ready(oc.step)
        elif verdict is not False:
            self.steering.decisions[oc.step] = verdict
            self._waiting.add(oc.step)

    def _skip_descendants(self, sid: str) -> None:
        for d in sorted(self.dag.descendants(sid), key=self._pos.__getitem__):
            if self.state.steps[d].status is S.PENDING:
                self.rt.journal.step_status(d, S.SKIPPED, reason=f"upstream step {sid!r} failed")

    async def _stop(self, status: RunStatus, reason: str) -> None:
        for task in self._running.values():
            task.cancel()
        await self._turns.gather(*self._running.values(), *self._retries.cancel())
        self._running.clear()
        self._finished.clear()
        journal = self.rt.journal
        for sid in self.dag.order:
            st = self.state.steps[sid]
            if not st.status.terminal:
                journal.step_status(sid, S.CANCELLED, attempt=st.attempt, reason=reason)
        journal.run_status(status, reason)
        self.steering.stopped()
