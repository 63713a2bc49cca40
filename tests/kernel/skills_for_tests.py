"""Test-only skills and services for the engine, fault and replay tests.

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

from sgr_kernel.dispatch.base import JobHandle
from sgr_kernel.errors import RemoteJobError, SkillFailed, StepError
from sgr_kernel.llm.base import LLMRequest, LLMResponse, Message, TokenCallback, Usage
from sgr_kernel.models.remote import RemoteJobSpec
from sgr_kernel.skills.base import (
    CAP_LLM,
    CAP_NETWORK,
    CAP_REMOTE,
    HttpResponse,
    Skill,
    SkillContext,
)
from sgr_kernel.trace._crash import crashpoint

__all__ = [
    "EFFECT_CRASH_POINTS",
    "TEST_SKILLS",
    "EchoLLM",
    "SinkDispatcher",
    "read_sink",
    "sink_transport",
]

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
            _append(Path(inputs.log), f"start {ctx.step_id}")
        await asyncio.sleep(inputs.seconds)
        if inputs.log:
            _append(Path(inputs.log), f"end {ctx.step_id}")
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


# ---------------------------------------------------------------- services


def _append(path: Path, line: str) -> None:
    # One write(2) on an O_APPEND fd: the line is whole in the page cache, even after SIGKILL.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def read_sink(path: Path) -> list[str]:
    """The effect lines in the sink, in order (missing file: none)."""
    try:
        return [ln for ln in path.read_text().splitlines() if ln]
    except FileNotFoundError:
        return []


class SinkDispatcher:
    """A dispatcher whose 'backend' is the sink file: a key already there is re-attached
    (its result returned, the effect not repeated), like a real backend that still knows the
    job. Crash points bracket the effect."""

    name = "sink"

    def __init__(self, sink: Path) -> None:
        self.sink = sink
        self.submitted = 0

    async def submit(self, spec: RemoteJobSpec) -> JobHandle:
        key = spec.idempotency_key
        if key in read_sink(self.sink):
            return JobHandle(key=key, backend=self.name, reattached=True)
        crashpoint("effect_before")
        self.submitted += 1
        _append(self.sink, key)
        crashpoint("effect_after")
        return JobHandle(key=key, backend=self.name)

    async def result(self, handle: JobHandle, *, timeout_s: float | None) -> dict[str, Any]:
        if handle.key not in read_sink(self.sink):
            raise RemoteJobError(f"job {handle.key} is unknown to the sink")
        return {"value": sum(map(ord, handle.key.rsplit(":", 2)[-2])) % 997}

    async def cancel(self, handle: JobHandle) -> None:
        pass

    async def close(self) -> None:
        pass


def sink_transport(sink: Path) -> Any:
    """An HTTP transport that appends each POST body to the sink (no de-duplication)."""

    async def fetch(
        method: str, url: str, headers: dict[str, str], body: str | None, timeout_s: float
    ) -> HttpResponse:
        crashpoint("effect_before")
        if body and body.endswith(":slow"):
            await asyncio.sleep(0.3)  # still open when a call made with it finishes
        _append(sink, f"post:{body}")
        crashpoint("effect_after")
        return HttpResponse(status=200, headers={}, body="ok")

    return fetch


class EchoLLM:
    """A deterministic model: the reply is a function of the request, so re-asking after a
    crash gets the same answer (unlike a scripted queue)."""

    name = "echo"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(
        self, request: LLMRequest, *, on_token: TokenCallback | None = None
    ) -> LLMResponse:
        self.calls += 1
        last = request.messages[-1].content if request.messages else ""
        text = f"echo: {last}"
        return LLMResponse(
            text=text,
            usage=Usage(prompt_tokens=len(last) // 4 + 1, completion_tokens=len(text) // 4 + 1),
            model="echo",
            finish_reason="stop",
        )


# ---------------------------------------------------------------- kernels and plans


class TickClock:
    """A fake clock: every monotonic reading is ``tick`` seconds after the previous one, and
    sleeps only yield. Wall-time budgets become deterministic."""

    def __init__(self, tick: float = 1.0, start: float = 1_700_000_000.0) -> None:
        self.tick, self.t = tick, 0.0
        self.start = start

    def now(self) -> float:
        return self.start + self.t

    def monotonic(self) -> float:
        self.t += self.tick
        return self.t

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


class SeqEntropy:
    """Deterministic randomness and ids."""

    def __init__(self, seed: int = 0) -> None:
        import random as _random

        self._rng = _random.Random(seed)
        self._n = 0

    def random(self) -> float:
        return self._rng.random()

    def new_id(self) -> str:
        self._n += 1
        return f"{self._n:032x}"


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
