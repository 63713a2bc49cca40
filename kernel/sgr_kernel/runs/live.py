"""What a run's model is streaming, for faces in other processes (the side panel).

Streamed tokens are live-only events: they never enter the log, so a process that does not
run the run cannot see them. The process that runs it publishes the tail of each running
step's streamed text (planning's under ``__plan__``) to one small file beside the run's log,
replaced whole (write, then rename) at most every ``interval_s`` while tokens arrive; a step
that ends leaves it, and the file goes when the run ends. Readers trust it only while the run
is live: a file left by a killed process is never shown (:meth:`Runs.detail` checks).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sgr_kernel.models.status import RunStatus
from sgr_kernel.trace.base import Record, RecordType

__all__ = ["LIVE_FILE", "TAIL_CHARS", "LiveTail", "publish_live", "read_live"]

LIVE_FILE = "live-stream.json"
"""The file, in the run's directory, that holds the streamed tails."""

TAIL_CHARS = 4000
"""How much of each step's streamed text is kept (its end)."""

_ENDED = frozenset({"COMMITTED", "FAILED", "RETRY_WAIT", "CANCELLED", "SKIPPED"})
_STOPPED = frozenset(s.value for s in RunStatus if s.terminal) | {"PAUSED", "INTERRUPTED"}


class LiveTail:
    """A record listener that keeps each running step's streamed text in ``path``.

    Args:
        path: The file to keep (replaced whole on every write).
        interval_s: The least time between two writes while tokens arrive; a step's end and
            the run's end are written at once.
        clock: Seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        path: Path,
        *,
        interval_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path, self.interval_s, self.clock = path, interval_s, clock
        self.streams: dict[str, str] = {}
        self.writes = 0
        self._last = float("-inf")
        self._dirty = False
        self._pending: asyncio.TimerHandle | None = None

    def __call__(self, rec: Record) -> None:
        if rec.type is RecordType.EVENT and rec.data.get("kind") == "token":
            step = rec.step or "__plan__"
            text = self.streams.get(step, "") + str(rec.data.get("text") or "")
            self.streams[step] = text[-TAIL_CHARS:]
            self._dirty = True
            if self.clock() - self._last >= self.interval_s:
                self.flush()
            elif not self._pending:
                self._flush_later()
        elif rec.type is RecordType.STEP:
            status = rec.data.get("status")
            step = rec.step or "__plan__"
            # A new attempt starts afresh; an attempt that ended streams no more.
            if (status == "RUNNING" or status in _ENDED) and step in self.streams:
                del self.streams[step]
                self._dirty = True
                self.flush()
        elif rec.type is RecordType.RUN_STATUS and rec.data.get("status") in _STOPPED:
            self.close()

    def _flush_later(self) -> None:
        # The last tokens of a burst are written one interval later, not at the next token.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a caller feeding records by hand): at the next one
            return
        self._pending = loop.call_later(self.interval_s, self.flush)

    def flush(self) -> None:
        """Write the tails now if they changed since the last write."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if not self._dirty:
            return
        self._dirty = False
        self._last = self.clock()
        if not self.streams:
            self._remove()
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError):  # a full disk costs the panel its stream, not the run
            tmp.write_text(json.dumps(self.streams), encoding="utf-8")
            os.replace(tmp, self.path)
            self.writes += 1

    def close(self) -> None:
        """The run ended (or stopped here): nothing is streaming any more."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self.streams.clear()
        self._dirty = False
        self._remove()

    def _remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def publish_live(handle: Any, run_dir: Path) -> Callable[[], None]:
    """Keep ``handle``'s streamed tails in ``run_dir`` while it runs; returns the unsubscribe
    (which also removes the file)."""
    tail = LiveTail(run_dir / LIVE_FILE)
    tail.close()  # what a killed process left (a resumed run starts with nothing streaming)
    unsubscribe: Callable[[], None] = handle.subscribe(tail)

    def stop() -> None:
        unsubscribe()
        tail.close()

    return stop


def read_live(run_dir: Path) -> dict[str, str]:
    """The streamed tails kept in ``run_dir`` (empty when there are none or the file is not
    one this module wrote)."""
    try:
        data = json.loads((run_dir / LIVE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v[-TAIL_CHARS:] for k, v in data.items() if isinstance(v, str)}
