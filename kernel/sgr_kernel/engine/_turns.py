"""Where the scheduler sleeps between turns, and what it writes before it does."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

from sgr_kernel.engine.base import Clock
from sgr_kernel.engine.journal import RunJournal

__all__ = ["RetryTimers", "TurnGate"]


class TurnGate:
    """An Event's clear-then-wait without its waiter list (one future per idle turn), and the
    journal held for the scheduler's turn: what the turn appended is written with one write
    just before the scheduler yields, so before any task it started runs (ADR 027)."""

    __slots__ = ("_error", "_journal", "_waiter")

    def __init__(self, journal: RunJournal) -> None:
        self._journal = journal
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        """What a turn taken by :meth:`take` raised: :meth:`sleep` raises it."""

    def wake(self) -> None:
        """Something for the scheduler to handle: an outcome, a timer, a decision, a cancel."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self, turn: Callable[[], bool]) -> bool:
        """Take the sleeping scheduler's turn here, instead of waking it for one (saves a loop
        iteration): ``turn`` runs with the journal held, and what it appended is written
        before this returns. The scheduler is woken when ``turn`` says so (True) or raises;
        it raises the error itself. When the scheduler is not asleep, this only wakes it.
        Returns whether the turn ran here and the scheduler sleeps on."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.wake()
            return False
        try:
            self._journal.hold()
            try:
                wake = turn()
            finally:
                self._journal.release()
        except Exception as e:  # this task's errors are nobody's to await: hand it over
            self._error = e
            wake = True
        if wake:
            self.wake()
        return not wake

    async def sleep(self) -> None:
        """Until :meth:`wake` (a wake before this call is not kept: check, then sleep)."""
        self._waiter = asyncio.get_running_loop().create_future()
        self._journal.release()
        try:
            await self._waiter
        finally:
            self._waiter = None
            self._journal.hold()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    async def gather(self, *tasks: asyncio.Future[Any]) -> None:
        """Wait for ``tasks`` to end (cancelled ones included) outside the held turn."""
        self._journal.release()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._journal.hold()


class RetryTimers:
    """Steps waiting out a retry delay: a task each, which hands its step back (``expired``)
    and wakes the scheduler when the delay is over."""

    __slots__ = ("_clock", "_wake", "expired", "tasks")

    def __init__(self, clock: Clock, wake: Callable[[], None]) -> None:
        self._clock, self._wake = clock, wake
        self.tasks: dict[asyncio.Task[None], str] = {}
        self.expired: list[str] = []
        """Steps whose delay is over, for the scheduler's next turn."""

    def __bool__(self) -> bool:
        """Whether a step still waits here or was handed back and not yet taken."""
        return bool(self.tasks or self.expired)

    def start(self, sid: str, delay: float, context: contextvars.Context) -> None:
        task = asyncio.get_running_loop().create_task(self._wait(sid, delay), context=context)
        self.tasks[task] = sid

    def take_expired(self) -> list[str]:
        expired, self.expired = self.expired, []
        return expired

    def cancel(self) -> list[asyncio.Task[None]]:
        """Cancel every wait and forget every step; returns the tasks, to await their end."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        self.tasks.clear()
        self.expired.clear()
        return tasks

    async def _wait(self, sid: str, delay: float) -> None:
        await self._clock.sleep(delay)
        self.tasks.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
        self.expired.append(sid)
        self._wake()
