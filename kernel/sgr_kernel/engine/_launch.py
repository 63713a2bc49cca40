"""Where launches come from: the ready queue, and the strategy that picks from it.

The scheduler owns *which steps may run* (their parents committed, their approval given); a
:class:`LaunchSource` owns *which of them runs next* and how an attempt's outcome is judged.
Live, ready steps launch in plan order, up to ``max_concurrency`` at once, and an outcome is
taken as it comes. Strict replay plugs in a source that follows the recorded launch order and
compares every outcome with the recording (``engine/_recorded.py``); the scheduler does not
know the difference.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping

from sgr_kernel.engine._attempt import Outcome
from sgr_kernel.engine._steering import Decision
from sgr_kernel.errors import ReplayDivergenceError

__all__ = ["LaunchSource", "ReadyQueue"]


class ReadyQueue:
    """Steps ready to launch, popped in plan order; a step is queued at most once."""

    __slots__ = ("_heap", "_pos", "_queued")

    def __init__(self, pos: Mapping[str, int]) -> None:
        self._pos = pos
        self._heap: list[tuple[int, str]] = []
        self._queued: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self._heap)

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, sid: str) -> None:
        if sid not in self._queued:  # a step with several parents is released once
            self._queued.add(sid)
            heapq.heappush(self._heap, (self._pos[sid], sid))

    def pop(self) -> str | None:
        if not self._heap:
            return None
        sid = heapq.heappop(self._heap)[1]
        self._queued.discard(sid)
        return sid

    def ids(self) -> set[str]:
        return set(self._queued)

    def remove(self, sid: str) -> None:
        self._heap.remove((self._pos[sid], sid))
        heapq.heapify(self._heap)
        self._queued.discard(sid)


class LaunchSource:
    """The live strategy: ready steps launch in plan order, at most ``limit`` at once.

    Subclasses (strict replay) override the hooks; each default is what a live run does.
    """

    live = True
    """Live runs continue an interrupted attempt with the calls it had finished (resume)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.ended = False
        """Nothing more will ever launch (replay: the recording stops here)."""

    @property
    def pauses_when_waiting(self) -> bool:
        """Pause the run when only approvals are left, whatever the run was told."""
        return False

    def next(
        self, ready: ReadyQueue, *, idle: bool, attempt_of: Callable[[str], int]
    ) -> str | None:
        """The step to launch now (removed from ``ready``), or None to wait for a turn.

        Raises:
            ReplayDivergenceError: The run can no longer follow the source.
        """
        return ready.pop()

    def elapsed_s(self, sid: str, attempt: int) -> float | None:
        """The run's elapsed time to charge at this launch; None: the runtime's clock."""
        return None

    def denial(self, sid: str) -> Decision | None:
        """A decision to apply to ``sid`` as soon as it is ready, instead of queueing it."""
        return None

    def gate(self, sid: str) -> bool | None:
        """Approval for a ready step that requires it: True to launch now, None to ask."""
        return None

    def judge(self, oc: Outcome) -> ReplayDivergenceError | None:
        """Whether an attempt's outcome parts from the source (None: it stands)."""
        return None

    def interrupted(self, oc: Outcome) -> Decision | bool:
        """An attempt the source says was cut short: True to run it again, a Decision to put
        it before that decision, False when nothing follows (the source ended)."""
        raise AssertionError(f"a live attempt of {oc.step!r} cannot be interrupted")
