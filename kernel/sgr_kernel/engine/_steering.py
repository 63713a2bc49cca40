"""Steering: the human input a live run takes — approve/deny decisions and a cancel.

Decisions arrive from this process (``Kernel.approve``) or from other processes through the
run's inbox (``sgr approve`` while the run is live in a notebook). The scheduler reads them at
the top of each turn; an inbox request is marked done only once its decision is in the log,
so a crash in between leaves the request to be read again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from sgr_kernel.errors import ApprovalError
from sgr_kernel.trace import inbox as inbox_files

__all__ = ["INBOX_POLL_S", "Decision", "Steering"]

INBOX_POLL_S = 0.25
"""How often a live run looks for decisions posted by other processes."""

Decision = tuple[bool, str | None, str | None]
"""``(approved, by, reason)``."""

Decide = Callable[[str, bool, str, str | None], None]
"""``(step, approved, by, reason)``: validates, then records through :meth:`Steering.decide`."""


class Steering:
    """The decisions and the cancel waiting to be applied to one run.

    ``wake`` is the scheduler's wake-up: every input calls it so the loop takes a turn.
    """

    def __init__(self, wake: Callable[[], None], inbox: Path | None = None) -> None:
        self._wake = wake
        self._inbox = inbox
        self.decisions: dict[str, Decision] = {}
        """Decided steps whose decision is not yet applied, by step id."""
        self.cancel_reason: str | None = None
        self.inbox_due = inbox is not None
        """The inbox should be read at the next turn (set by the poll timer)."""
        self._applied: dict[str, list[inbox_files.InboxRequest]] = {}
        self._cancels: list[inbox_files.InboxRequest] = []
        self._ticker: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ inputs

    def decide(self, step_id: str, decision: Decision) -> None:
        """Queue a (validated) decision for ``step_id``."""
        self.decisions[step_id] = decision
        self._wake()

    def cancel(self, reason: str) -> None:
        self.cancel_reason = reason
        self._wake()

    # ------------------------------------------------------------ the inbox

    def start(self) -> None:
        """Start polling the inbox (live runs with a run directory only)."""
        if self._inbox is not None:
            self._tick()

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def _tick(self) -> None:
        """Wake the loop every INBOX_POLL_S to look at the inbox (one timer, not one per step)."""
        self.inbox_due = True
        self._wake()
        self._ticker = asyncio.get_running_loop().call_later(INBOX_POLL_S, self._tick)

    def read_inbox(self, decide: Decide) -> None:
        """Take the posted requests; ``decide`` validates and queues each approve/deny (a
        request it refuses is answered with the reason)."""
        self.inbox_due = False
        assert self._inbox is not None
        for req in inbox_files.take(self._inbox):
            if req.action == "cancel":
                self.cancel(req.reason or f"cancelled by {req.by}")
                self._cancels.append(req)
                continue
            try:
                if req.step is None:
                    raise ApprovalError("an approve/deny request must name a step")
                decide(req.step, req.action == "approve", req.by, req.reason)
            except ApprovalError as e:
                inbox_files.reject(req.path, str(e))
                continue
            self._applied.setdefault(req.step, []).append(req)

    def applied(self, step_id: str) -> None:
        """The decision for ``step_id`` is in the log: its inbox requests are done."""
        for req in self._applied.pop(step_id, ()):
            inbox_files.done(req)

    def stopped(self) -> None:
        """The run stopped (its status is in the log): posted cancels are done."""
        for req in self._cancels:
            inbox_files.done(req)
        self._cancels.clear()
