"""An attempt that ends alone and takes the scheduler's turn may run the attempt that turn
launched in its own task (ADR 034). That must not change what a step sees or how it is
stopped: every attempt starts from the scheduler's context, a deadline or a cancel stops only
the attempt running, and the loop still gets an iteration every few dozen steps."""

from __future__ import annotations

import asyncio
import contextvars
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from skills_for_tests import TEST_SKILLS, EchoLLM, plan_of

from sgr_kernel.engine import Kernel, KernelConfig, RunConfig
from sgr_kernel.engine.lifecycle import _INLINE_RUN
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.skills.base import Skill, SkillContext
from sgr_kernel.trace import Durability

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


class _In(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Out(BaseModel):
    seen: str = ""


class Where(Skill):
    """Notes the task it runs in and the context variable it finds; ``set`` sets it,
    ``hang`` waits (attempt 1 only, or always with ``forever``)."""

    name = "where"
    description = "Notes its task."
    Input = _In
    Output = _Out
    idempotent = True  # a timed-out attempt may run again
    tasks: ClassVar[list[tuple[str, int, int]]] = []

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        self.tasks.append((ctx.step_id, ctx.attempt, id(asyncio.current_task())))
        seen = VAR.get()
        extra = inputs.model_extra or {}
        if extra.get("set"):
            VAR.set(ctx.step_id)
        if extra.get("set_and_reset"):
            VAR.reset(VAR.set(ctx.step_id))
        if extra.get("forever") or (extra.get("hang") and ctx.attempt == 1):
            await asyncio.sleep(3600)
        return _Out(seen=seen)


def _kernel(home: Path) -> Kernel:
    Where.tasks = []
    return Kernel(
        KernelConfig(home=home, run=RunConfig(durability=Durability.NONE, max_concurrency=8)),
        skills={**TEST_SKILLS, "where": Where},
        llm=EchoLLM(),
    )


def _chain(n: int, **inputs: dict[str, Any]) -> Any:
    return plan_of(
        *(
            {
                "id": f"s{i}",
                "skill": "where",
                "depends_on": [f"s{i - 1}"] * bool(i),
                "inputs": inputs.get(f"s{i}", {}),
                **(
                    {"timeout_s": 0.2, "retry": {"max_attempts": 2, "backoff_s": 0.01}}
                    if inputs.get(f"s{i}", {}).get("hang")
                    else {}
                ),
            }
            for i in range(n)
        )
    )


def _runs_of_one_task(tasks: list[tuple[str, int, int]]) -> list[int]:
    runs: list[int] = []
    last = None
    for _, _, task in tasks:
        if task == last:
            runs[-1] += 1
        else:
            runs.append(1)
        last = task
    return runs


def test_a_chain_of_instant_steps_shares_tasks_and_still_yields_to_the_loop(
    tmp_path: Path,
) -> None:
    k = _kernel(tmp_path)
    ticks = 0

    async def main() -> Any:
        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.ensure_future(ticker())
        try:
            return await k.run(plan=_chain(200))
        finally:
            t.cancel()

    result = asyncio.run(main())
    assert result.ok
    runs = _runs_of_one_task(Where.tasks)
    assert sum(runs) == 200
    assert len(runs) < 200 // 2  # tasks are shared: not one a step
    assert max(runs) <= _INLINE_RUN + 1  # ...but the loop gets an iteration between runs
    assert ticks >= len(runs) - 1  # and other tasks on it do run meanwhile


def test_an_attempt_never_runs_where_a_skill_set_a_context_variable(tmp_path: Path) -> None:
    k = _kernel(tmp_path)
    plan = _chain(
        6,
        s1={"set": True},
        s2={"set_and_reset": True},  # leaves the context as it found it: may be shared
    )
    token = VAR.set("before the run")
    try:
        result = asyncio.run(k.run(plan=plan))
    finally:
        VAR.reset(token)  # the next test starts from the default again
    assert result.ok
    seen = {sid: out["seen"] for sid, out in result.outputs.items()}
    assert set(seen.values()) == {"before the run"}  # s1's value reached no one
    task = {sid: t for sid, _, t in Where.tasks}
    assert task["s0"] == task["s1"]  # s0 set nothing: s1 ran in its task
    assert task["s2"] != task["s1"]  # s1 did: s2 got a task of its own
    assert task["s3"] == task["s2"]  # set and reset: nothing leaks, the task is shared


def test_a_deadline_in_a_shared_task_stops_only_that_attempt(tmp_path: Path) -> None:
    k = _kernel(tmp_path)
    plan = _chain(4, s1={"hang": True})  # attempt 1 outlives its 0.2 s deadline
    result = asyncio.run(k.run(plan=plan))
    assert result.ok, result
    state = k.load(result.run_id)
    assert state.steps["s1"].attempt == 2
    assert [f.type for f in state.steps["s1"].failures] == ["StepTimeout"]
    task = {(sid, attempt): t for sid, attempt, t in Where.tasks}
    assert task[("s1", 1)] == task[("s0", 1)]  # the attempt that timed out shared a task
    assert all(state.steps[f"s{i}"].status is StepStatus.COMMITTED for i in range(4))


def test_cancelling_a_run_stops_the_attempt_running_in_a_shared_task(tmp_path: Path) -> None:
    k = _kernel(tmp_path)

    async def main() -> Any:
        handle = await k.start(plan=_chain(3, s1={"forever": True}))
        while len(Where.tasks) < 2:
            await asyncio.sleep(0.01)
        return await asyncio.wait_for(k.cancel(handle.run_id), 10)

    result = asyncio.run(main())
    assert result.status is RunStatus.CANCELLED
    state = k.load(result.run_id)
    assert state.steps["s0"].status is StepStatus.COMMITTED
    assert state.steps["s1"].status is StepStatus.CANCELLED
    assert state.steps["s2"].status is StepStatus.CANCELLED
    assert Where.tasks[0][2] == Where.tasks[1][2]  # s1 was running in s0's task


def test_cancelling_a_run_ends_a_retry_wait_at_once(tmp_path: Path) -> None:
    """A step waiting out a 30 s retry delay: the cancel ends the wait (its timer task) and
    the run, without waiting for the delay."""
    k = _kernel(tmp_path)
    plan = plan_of(
        {"id": "a", "skill": "where"},
        {
            "id": "b",
            "skill": "flaky",
            "depends_on": ["a"],
            "inputs": {"fail_times": 1},
            "retry": {"max_attempts": 2, "backoff_s": 30, "jitter": 0},
        },
    )

    async def main() -> tuple[Any, int]:
        handle = await k.start(plan=plan)
        while handle.state.steps["b"].status is not StepStatus.RETRY_WAIT:
            await asyncio.sleep(0.01)
        result = await asyncio.wait_for(k.cancel(handle.run_id), 5)
        await asyncio.sleep(0)
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return result, len(pending)

    result, pending = asyncio.run(main())
    assert result.status is RunStatus.CANCELLED
    state = k.load(result.run_id)
    assert state.steps["b"].status is StepStatus.CANCELLED and state.steps["b"].attempt == 1
    assert pending == 0  # no timer task left behind
