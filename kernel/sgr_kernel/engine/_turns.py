"""Where the scheduler sleeps between turns, and what it writes before it does."""

from __future__ import annotations

import asyncio
from typing import Any

from sgr_kernel.engine.journal import RunJournal

__all__ = ["TurnGate"]


class TurnGate:
    """An Event's clear-then-wait without its waiter list (one future per idle turn), and the
    journal held for the scheduler's turn: what the turn appended is written with one write
    just before the scheduler yields, so before any task it started runs (ADR 027)."""

    __slots__ = ("_journal", "_waiter")

    def __init__(self, journal: RunJournal) -> None:
        self._journal = journal
        self._waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        """Something for the scheduler to handle: an outcome, a timer, a decision, a cancel."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def sleep(self) -> None:
        """Until :meth:`wake` (a wake before this call is not kept: check, then sleep)."""
        self._waiter = asyncio.get_running_loop().create_future()
        self._journal.release()
        try:
            await self._waiter
        finally:
            self._waiter = None
            self._journal.hold()

    async def gather(self, *tasks: asyncio.Future[Any]) -> None:
        """Wait for ``tasks`` to end (cancelled ones included) outside the held turn."""
        self._journal.release()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._journal.hold()
