"""The ReliabilityEngine: retries, enforced timeouts, budgets and circuit breakers.

Policies are frozen values (``RetryPolicy``, ``BudgetPolicy``); this module applies them.
Retryability is a property of the error type. A policy or human denial is never retried, and
neither is a non-idempotent side effect whose outcome is unknown.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sgr_kernel.engine.base import Clock, Entropy
from sgr_kernel.errors import (
    BudgetExceeded,
    CircuitOpen,
    SideEffectInDoubt,
    SkillFailed,
    StepError,
    StepTimeout,
)
from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.models.policies import NEVER_RETRIED, BudgetPolicy, RetryPolicy
from sgr_kernel.trace.state import Usage

__all__ = [
    "BudgetGuard",
    "CircuitBreaker",
    "ReliabilityEngine",
    "run_in_process",
    "why_not_retried",
]

T = TypeVar("T")


@dataclass
class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; lets one trial call through after
    ``reset_after_s``; closes again on a success."""

    name: str
    clock: Clock
    threshold: int = 5
    reset_after_s: float = 30.0
    failures: int = 0
    opened_at: float | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if self.clock.monotonic() - self.opened_at >= self.reset_after_s:
            return "half-open"
        return "open"

    def before_call(self) -> None:
        if self.state == "open":
            raise CircuitOpen(
                f"circuit for {self.name!r} is open after {self.failures} consecutive failures; "
                f"retrying after {self.reset_after_s:g}s"
            )

    def record_success(self) -> None:
        self.failures, self.opened_at = 0, None

    def record_failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = self.clock.monotonic()


class BudgetGuard:
    """Checks a run's usage against its budget before each LLM call and step launch."""

    def __init__(self, policy: BudgetPolicy, usage: Usage) -> None:
        self.policy = policy
        self.usage = usage

    def check_launch(self, elapsed_s: float) -> None:
        p, u = self.policy, self.usage
        if p.max_steps is not None and u.steps_launched + 1 > p.max_steps:
            raise BudgetExceeded("steps", u.steps_launched + 1, p.max_steps)
        if p.max_wall_s is not None and elapsed_s > p.max_wall_s:
            raise BudgetExceeded("wall_s", round(elapsed_s, 3), p.max_wall_s)
        self._check_spend()

    def check_llm_call(self) -> None:
        p, u = self.policy, self.usage
        if p.max_llm_calls is not None and u.llm_calls + 1 > p.max_llm_calls:
            raise BudgetExceeded("llm_calls", u.llm_calls + 1, p.max_llm_calls)
        self._check_spend()

    def _check_spend(self) -> None:
        p, u = self.policy, self.usage
        if p.max_tokens is not None and u.tokens >= p.max_tokens:
            raise BudgetExceeded("tokens", u.tokens, p.max_tokens)
        if p.max_cost_usd is not None and u.cost_usd >= p.max_cost_usd:
            raise BudgetExceeded("cost_usd", u.cost_usd, p.max_cost_usd)


class ReliabilityEngine:
    """Applies retry, timeout and breaker policies around steps and calls."""

    def __init__(self, clock: Clock, entropy: Entropy) -> None:
        self.clock = clock
        self.entropy = entropy
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, name: str) -> CircuitBreaker:
        b = self._breakers.get(name)
        if b is None:
            b = self._breakers[name] = CircuitBreaker(name, self.clock)
        return b

    @staticmethod
    def retryable(error: BaseException) -> bool:
        """Whether the error's *type* allows a retry."""
        if isinstance(error, StepError):
            return error.retryable
        return not isinstance(error, asyncio.CancelledError)

    def next_delay(
        self, policy: RetryPolicy, error: BaseException, attempt: int, *, in_doubt: bool
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` when it must not be retried.

        ``in_doubt`` means a non-idempotent side effect started and its outcome is unknown.
        """
        if in_doubt or attempt >= policy.max_attempts:
            return None
        names = [c.__name__ for c in type(error).__mro__]
        if not policy.allows(names, self.retryable(error)):
            return None
        delay = policy.delay(attempt, self.entropy.random())
        hint = getattr(error, "retry_after_s", None)
        if isinstance(hint, int | float) and hint > delay:
            delay = min(float(hint), max(policy.max_backoff_s, delay))
        return delay

    @staticmethod
    def in_doubt_error(error: BaseException) -> SideEffectInDoubt:
        return SideEffectInDoubt(
            f"a non-idempotent side effect may have happened ({type(error).__name__}: {error}); "
            "not retried automatically — approve a re-run or inspect the effect"
        )

    async def with_timeout(self, make: Callable[[], Awaitable[T]], timeout_s: float | None) -> T:
        """Await ``make()``; past ``timeout_s`` the task is cancelled and StepTimeout raised."""
        if timeout_s is None:
            return await make()
        try:
            # In this task, not a new one as ``wait_for`` makes: no task, no extra loop turn
            # per step (the engine's hot path); the deadline cancels the await the same way.
            async with asyncio.timeout(timeout_s):
                return await make()
        except TimeoutError:
            raise StepTimeout(f"no result within {timeout_s:g}s; the step was cancelled") from None


def _child_main(fn: Callable[[Any], Any], arg: Any, conn: Any) -> None:
    try:
        result: tuple[bool, Any] = (True, fn(arg))
    except BaseException as e:
        result = (False, f"{type(e).__name__}: {e}")
    try:
        conn.send(result)
    finally:
        conn.close()
        os._exit(0)


async def run_in_process(fn: Callable[[Any], T], arg: Any, timeout_s: float | None) -> T:
    """Run blocking ``fn(arg)`` in a forked child that is SIGKILLed at the deadline.

    Threads cannot be stopped in Python; a process can. The child's result comes back over a
    pipe (our own code on both ends).
    """
    mp = multiprocessing.get_context("fork")
    recv, send = mp.Pipe(duplex=False)
    proc = mp.Process(target=_child_main, args=(fn, arg, send), daemon=True)
    proc.start()
    send.close()
    loop = asyncio.get_running_loop()
    readable = loop.create_future()
    fd = recv.fileno()

    def on_readable() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        try:
            await asyncio.wait_for(readable, timeout_s)
        except TimeoutError:
            raise StepTimeout(
                f"no result within {timeout_s:g}s; the child process {proc.pid} was killed"
            ) from None
        try:
            ok, payload = recv.recv()
        except EOFError:
            proc.join(1)
            raise SkillFailed(
                f"the child process died without a result (exit code {proc.exitcode})"
            ) from None
        if not ok:
            raise SkillFailed(str(payload))
        return payload  # type: ignore[no-any-return]
    finally:
        loop.remove_reader(fd)
        recv.close()
        if proc.is_alive() and proc.pid is not None:
            os.kill(proc.pid, signal.SIGKILL)
        await asyncio.get_running_loop().run_in_executor(None, proc.join, 5)


def why_not_retried(policy: RetryPolicy | None, failure: FailureRecord) -> str:
    """Why a failed attempt was not retried, in words a user can act on (from the log alone).

    ``policy`` is the step's retry policy (``None``: the default). Matches the decision of
    :meth:`ReliabilityEngine.next_delay` by type name, which is what the log keeps.
    """
    policy = policy or RetryPolicy()
    kind = failure.type
    if kind == "SideEffectInDoubt":
        return (
            "its side effect may already have happened, so it is not repeated automatically; "
            "check the effect, then resume and approve the step to do it again"
        )
    if kind in NEVER_RETRIED:
        return f"{kind} is never retried: a person, a policy or a budget stopped it"
    if kind in policy.no_retry_on:
        return f"the plan's retry policy lists {kind} in no_retry_on"
    if not policy.allows([kind], failure.retryable):
        return (
            f"{kind} is not retried: it is deterministic (the same code and inputs fail the same "
            "way again); fix the cause and fork or rerun, or add "
            f"{kind} to the step's retry.retry_on if it can pass on another try"
        )
    if failure.attempt >= policy.max_attempts:
        n = policy.max_attempts
        return (
            f"all {n} attempt{'s' if n != 1 else ''} allowed by the step's retry.max_attempts "
            "were used"
        )
    return ""
