"""Test-only skills for the engine, fault and replay tests, and a kernel made with them.

Every skill is deterministic given its inputs (and, for ``flaky``, its attempt number), so an
interrupted-then-resumed run can be compared output for output with an uninterrupted one.
Side effects land in an external *sink* file (one line per effect) that survives SIGKILL and
lets a test count effects per idempotency key.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from services_for_tests import EchoLLM, SinkDispatcher, append_line, sink_transport

from sgr_kernel.errors import SkillFailed, StepError
from sgr_kernel.llm.base import LLMRequest, Message
from sgr_kernel.skills.base import (
    CAP_LLM,
    CAP_NETWORK,
    CAP_REMOTE,
    Skill,
    SkillContext,
)

__all__ = ["EFFECT_CRASH_POINTS", "TEST_SKILLS", "make_kernel", "plan_of"]

EFFECT_CRASH_POINTS = ("effect_before", "effect_after")
"""Crash points of the test side effects: intent written, effect not done / done, no result."""


# ---------------------------------------------------------------- models


class AnyIn(BaseModel):
    """Accepts any inputs (refs to upstream outputs land here)."""

    model_config = ConfigDict(extra="allow")

    x: int = 0


class ValueOut(BaseModel):
    value: int


def _fold(inputs: BaseModel) -> int:
    """A deterministic function of every integer input (upstream values included)."""
    total = 0
    for k, v in sorted(inputs.model_dump().items()):
        if isinstance(v, int) and not isinstance(v, bool):
            total = (total * 31 + v + len(k)) % 1_000_003
    return total + 1


# ---------------------------------------------------------------- skills


class Noop(Skill):
    name = "noop"
    description = "Returns a deterministic value from its inputs."
    Input = AnyIn
    Output = ValueOut

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        return ValueOut(value=_fold(inputs))


class FlakyIn(AnyIn):
    fail_times: int = 1


class Flaky(Skill):
    name = "flaky"
    description = "Fails (retryably) on its first ``fail_times`` attempts, then succeeds."
    Input = FlakyIn
    Output = ValueOut

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        if ctx.attempt <= inputs.fail_times:
            raise SkillFailed(f"flaky: attempt {ctx.attempt} fails on purpose")
        return ValueOut(value=_fold(inputs))


class Fatal(StepError):
    """A non-retryable failure of a test skill."""

    retryable = False


class FailIn(AnyIn):
    retryable: bool = True


class AlwaysFail(Skill):
    name = "always_fail"
    description = "Always fails; retryably or not, as asked."
    Input = FailIn
    Output = ValueOut

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        if inputs.retryable:
            raise SkillFailed(f"always_fail: attempt {ctx.attempt}")
        raise Fatal(f"always_fail (fatal): attempt {ctx.attempt}")


class SlowIn(AnyIn):
    seconds: float = 0.05
    log: str | None = None
    """A file to append ``start STEP`` / ``end STEP`` lines to (concurrency checks)."""


class Slow(Skill):
    name = "slow"
    description = "Sleeps asynchronously, then returns."
    Input = SlowIn
    Output = ValueOut

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        if inputs.log:
            append_line(Path(inputs.log), f"start {ctx.step_id}")
        await asyncio.sleep(inputs.seconds)
        if inputs.log:
            append_line(Path(inputs.log), f"end {ctx.step_id}")
        return ValueOut(value=_fold(inputs.model_copy(update={"seconds": 0})))


class BlockIn(BaseModel):
    pid_file: str


class BlockForever(Skill):
    name = "block_forever"
    description = "Blocking work in a child process that never returns."
    Input = BlockIn
    Output = ValueOut
    isolation = "process"

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        raise NotImplementedError("runs only as a process")

    def run_blocking(self, inputs: Any) -> BaseModel:
        Path(inputs.pid_file).write_text(str(os.getpid()))
        while True:
            time.sleep(3600)


class EffectIn(AnyIn):
    tag: str = "e"


class RemoteEffect(Skill):
    """An idempotent side effect through the dispatcher (key stable across attempts)."""

    name = "remote_effect"
    description = "Performs a counted side effect as a remote job."
    Input = EffectIn
    Output = ValueOut
    capabilities = frozenset({CAP_REMOTE})
    idempotent = True

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        out = await ctx.remote("sgr_test_effect", {"tag": inputs.tag, "v": _fold(inputs)})
        return ValueOut(value=int(out["value"]))


class PostEffect(Skill):
    """A non-idempotent side effect (an HTTP POST): never re-run silently when in doubt."""

    name = "post_effect"
    description = "POSTs to the sink transport (counted; not idempotent)."
    Input = EffectIn
    Output = ValueOut
    capabilities = frozenset({CAP_NETWORK})
    idempotent = False

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        resp = await ctx.http("POST", "sink://effect", body=f"{ctx.step_id}:{inputs.tag}")
        return ValueOut(value=_fold(inputs) + len(resp.body))


class PostTwice(Skill):
    """Two non-idempotent effects with a drawn id between them: a crash after the first
    leaves a finished effect and maybe an unfinished one in the same attempt."""

    name = "post_twice"
    description = "POSTs twice to the sink transport (counted; not idempotent)."
    Input = EffectIn
    Output = ValueOut
    capabilities = frozenset({CAP_NETWORK})
    idempotent = False

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        first = await ctx.http("POST", "sink://effect", body=f"{ctx.step_id}:{inputs.tag}:1")
        token = ctx.new_id()[:4]
        second = await ctx.http("POST", "sink://effect", body=f"{ctx.step_id}:{inputs.tag}:2")
        return ValueOut(value=_fold(inputs) + len(first.body) + len(second.body) + len(token))


class PostGathered(Skill):
    """Two POSTs made together (``asyncio.gather``); the first is slow, so the second's
    result is logged while the first is still open. Idempotent: a resume goes on by itself."""

    name = "post_gathered"
    description = "POSTs twice at once to the sink transport, the first slowly."
    Input = EffectIn
    Output = ValueOut
    capabilities = frozenset({CAP_NETWORK})

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        slow, fast = await asyncio.gather(
            ctx.http("POST", "sink://effect", body=f"{ctx.step_id}:{inputs.tag}:1:slow"),
            ctx.http("POST", "sink://effect", body=f"{ctx.step_id}:{inputs.tag}:2"),
        )
        return ValueOut(value=_fold(inputs) + len(slow.body) + len(fast.body))


class AskIn(AnyIn):
    question: str = "hello"


class TextOut(BaseModel):
    text: str


class Ask(Skill):
    name = "ask"
    description = "One raw LLM call; returns the model's text."
    Input = AskIn
    Output = TextOut
    capabilities = frozenset({CAP_LLM})

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        req = LLMRequest(messages=(Message(role="user", content=inputs.question),))
        resp = await ctx.llm(req)
        return TextOut(text=resp.text)


class Now(Skill):
    name = "now"
    description = "Reads the recorded clock, a random number and an id."
    Input = AnyIn
    Output = ValueOut

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        ctx.now()
        ctx.new_id()
        return ValueOut(value=int(ctx.random() * 1000))


TEST_SKILLS: dict[str, type[Skill]] = {
    s.name: s
    for s in (
        Noop,
        Flaky,
        AlwaysFail,
        Slow,
        BlockForever,
        RemoteEffect,
        PostEffect,
        PostTwice,
        PostGathered,
        Ask,
        Now,
    )
}


# ---------------------------------------------------------------- kernels and plans


def make_kernel(
    home: Path,
    *,
    llm: Any = None,
    run: Any = None,
    pause: bool = False,
    sink: Path | None = None,
    clock: Any = None,
    entropy: Any = None,
    skills: dict[str, type[Skill]] | None = None,
) -> Any:
    """A Kernel on ``home`` with the test skills, an echo model and the sink services."""
    from sgr_kernel.engine import Kernel, KernelConfig, RunConfig

    sink = sink or home / "sink.log"
    cfg = KernelConfig(home=home, run=run or RunConfig(), pause_when_waiting=pause)
    return Kernel(
        cfg,
        skills=skills or TEST_SKILLS,
        llm=llm if llm is not None else EchoLLM(),
        dispatcher=SinkDispatcher(sink),
        http=sink_transport(sink),
        sandbox=None,
        clock=clock,
        entropy=entropy,
    )


def plan_of(*steps: dict[str, Any], budget: dict[str, Any] | None = None) -> Any:
    """A Plan from step dicts."""
    from sgr_kernel.models.plan import plan_from_data

    return plan_from_data({"name": "test", "steps": list(steps), "budget": budget or {}})
