"""A small in-memory stand-in for ``sgr_kernel.engine.Kernel`` that emits real Records.

It runs a plan's steps in order on the session's loop, honours ``requires_approval`` in
``ask`` mode, and refuses approval of steps that are not waiting, like the real kernel.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sgr_kernel.errors import ApprovalError, PlanValidationError, RunNotFoundError
from sgr_kernel.models import Plan, RunStatus, StepSpec, StepStatus
from sgr_kernel.trace.base import Record, RecordType

_ids = itertools.count(1)


@dataclass
class FakeResult:
    run_id: str
    status: RunStatus
    outputs: dict[str, Any]
    error: str | None = None


@dataclass
class FakeRun:
    run_id: str
    plan: Plan
    name: str
    approval_mode: str
    records: list[Record] = field(default_factory=list)
    listeners: list[Callable[[Record], None]] = field(default_factory=list)
    states: dict[str, StepStatus] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    decisions: dict[str, asyncio.Future[bool]] = field(default_factory=dict)
    task: asyncio.Task[FakeResult] | None = None

    def emit(self, type: RecordType, data: dict[str, Any], step: str | None = None) -> None:
        rec = Record(seq=len(self.records), ts=time.time(), type=type, step=step, data=data)
        self.records.append(rec)
        if type is RecordType.STEP:
            self.states[step or ""] = StepStatus(data["status"])
        for cb in list(self.listeners):
            cb(rec)


class FakeHandle:
    def __init__(self, run: FakeRun) -> None:
        self.run_id = run.run_id
        self._run = run

    def subscribe(self, callback: Callable[[Record], None]) -> Callable[[], None]:
        self._run.listeners.append(callback)
        return lambda: self._run.listeners.remove(callback)

    async def wait(self) -> FakeResult:
        assert self._run.task is not None
        return await self._run.task


class FakeKernel:
    def __init__(self, approval_mode: str = "ask", step_delay_s: float = 0.0) -> None:
        self.approval_mode = approval_mode
        self.step_delay_s = step_delay_s
        self.runs_by_id: dict[str, FakeRun] = {}
        self.started: list[dict[str, Any]] = []

    async def start(
        self,
        *,
        plan: Plan | None = None,
        task: str | None = None,
        name: str | None = None,
        budget: Any = None,
    ) -> FakeHandle:
        self.started.append({"plan": plan, "task": task, "name": name, "budget": budget})
        if plan is None:
            plan = Plan(name=name or "task", steps=(StepSpec(id="answer", skill="answer"),))
        if any(s.skill == "nope" for s in plan.steps):
            raise PlanValidationError(["steps[0].skill: unknown skill 'nope'"])
        run = FakeRun(f"run-{next(_ids):04d}", plan, name or plan.name, self.approval_mode)
        self.runs_by_id[run.run_id] = run
        run.emit(RecordType.RUN_CREATED, {"run_id": run.run_id, "name": run.name, "task": task})
        run.emit(RecordType.PLAN, {"plan": plan.model_dump(mode="json")})
        run.task = asyncio.get_running_loop().create_task(self._execute(run))
        return FakeHandle(run)

    async def _execute(self, run: FakeRun) -> FakeResult:
        run.emit(RecordType.RUN_STATUS, {"status": "RUNNING"})
        for step in run.plan.steps:
            sid = step.id
            run.emit(RecordType.STEP, {"status": "READY", "attempt": 0}, sid)
            if step.requires_approval and run.approval_mode == "ask":
                fut = asyncio.get_running_loop().create_future()
                run.decisions[sid] = fut
                run.emit(RecordType.STEP, {"status": "WAITING_APPROVAL", "attempt": 0}, sid)
                approved = await fut
                if not approved:
                    run.emit(RecordType.STEP, {"status": "FAILED", "reason": "denied"}, sid)
                    run.emit(RecordType.RUN_STATUS, {"status": "FAILED", "reason": "denied"})
                    return FakeResult(run.run_id, RunStatus.FAILED, run.outputs, "denied")
                run.emit(RecordType.STEP, {"status": "READY", "attempt": 0}, sid)
            run.emit(RecordType.STEP, {"status": "RUNNING", "attempt": 1}, sid)
            run.emit(RecordType.EVENT, {"text": f"working on {sid}"}, sid)
            await asyncio.sleep(self.step_delay_s)
            run.emit(RecordType.USAGE, {"tokens": 10, "cost_usd": 0.001, "llm_calls": 1}, sid)
            out = {"text": f"{sid} done"}
            run.outputs[sid] = out
            run.emit(RecordType.STEP, {"status": "COMMITTED", "attempt": 1, "output": out}, sid)
        run.emit(RecordType.RUN_STATUS, {"status": "COMPLETED"})
        return FakeResult(run.run_id, RunStatus.COMPLETED, dict(run.outputs))

    def _run(self, run_id: str) -> FakeRun:
        if run_id not in self.runs_by_id:
            raise RunNotFoundError(run_id, "<memory>")
        return self.runs_by_id[run_id]

    def approve(self, run_id: str, step_id: str, by: str = "user") -> None:
        self._decide(run_id, step_id, True)

    def deny(self, run_id: str, step_id: str, reason: str = "") -> None:
        self._decide(run_id, step_id, False)

    def _decide(self, run_id: str, step_id: str, ok: bool) -> None:
        run = self._run(run_id)
        fut = run.decisions.get(step_id)
        if fut is None or fut.done():
            state = run.states.get(step_id, "unknown")
            raise ApprovalError(f"step {step_id!r} of {run_id} is not waiting (it is {state})")
        run.emit(RecordType.APPROVAL, {"approved": ok, "by": "user"}, step_id)
        fut.set_result(ok)

    async def cancel(self, run_id: str) -> None:
        run = self._run(run_id)
        if run.task is not None:
            run.task.cancel()

    async def resume(self, run_id: str) -> FakeHandle:
        return FakeHandle(self._run(run_id))

    async def fork(self, run_id: str, **kw: Any) -> FakeHandle:
        run = self._run(run_id)
        return await self.start(plan=run.plan, name=f"{run.name}-fork")

    async def replay(self, run_id: str) -> dict[str, Any]:
        self._run(run_id)
        return {"run_id": run_id, "divergences": [], "live_calls": 0}

    def show(self, run_id: str) -> dict[str, Any]:
        run = self._run(run_id)
        steps = [
            {"id": s.id, "skill": s.skill, "status": run.states.get(s.id, StepStatus.PENDING)}
            for s in run.plan.steps
        ]
        return {"run_id": run_id, "name": run.name, "status": "?", "plan": run.plan, "steps": steps}

    def runs(self) -> list[dict[str, Any]]:
        return [{"run_id": r.run_id, "name": r.name} for r in self.runs_by_id.values()]
