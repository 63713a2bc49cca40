"""The client side's record of a Dask job, and how its progress reports reach a watcher.

Reports travel as scheduler events on the job's topic. A worker's death makes Dask start the
job again elsewhere; the new execution numbers its reports from 1, so reports are told apart
by (execution, seq), and a watcher follows the newest execution only.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from sgr_kernel.dispatch.base import JobFunction, Progress, ProgressCallback
from sgr_kernel.models.remote import RemoteJobSpec

__all__ = ["Job", "deliver_history", "progress_handler"]

log = logging.getLogger(__name__)


class Job:
    """One submitted job, as the dispatcher that submitted (or re-attached to) it sees it."""

    def __init__(self, spec: RemoteJobSpec, fn: JobFunction, resources: dict[str, float]) -> None:
        self.spec = spec
        self.key = spec.idempotency_key
        self.fn = fn
        self.resources = resources
        self.future: Any = None
        self.done: asyncio.Future[None] | None = None
        self.stopping = False
        self.watching: Callable[[Any], None] | None = None
        self.seen = 0  # the highest progress seq delivered from the current execution
        self.run = 0  # that execution (a worker's death makes Dask start another)
        self.held = False  # published as a dataset
        self.timer: asyncio.TimerHandle | None = None
        self.history: Callable[[], None] | None = None
        self.retries_left = spec.retries
        self.generation = 0
        self.attached = False  # adopted from a previous kernel's dataset


def progress_handler(job: Job, callback: ProgressCallback) -> Callable[[Any], None]:
    """A topic handler that hands ``callback`` each report of ``job`` once, newest execution
    only. Reports arrive on the client's thread and, for a re-attached job, from a history
    read on a pool thread: both may run at once."""
    seen: set[tuple[int, int]] = set()
    since = [float("-inf")]  # when the scheduler got the current execution's first report
    lock = threading.Lock()

    def handler(event: Any) -> None:
        try:
            at, p = float(event[0]), Progress.model_validate(event[1])
        except Exception:
            return
        with lock:
            if (p.run, p.seq) in seen:
                return
            if p.run != job.run:
                # Another execution: one that started after a worker's death numbers its
                # reports from 1 again; one that reported before the current one's first
                # report (history read late, on one clock: the scheduler's) is over.
                if at < since[0]:
                    return
                job.run, job.seen, since[0] = p.run, 0, at
            seen.add((p.run, p.seq))
            job.seen = max(job.seen, p.seq)
        callback(p)

    return handler


def deliver_history(client: Any, topic: str, handler: Callable[[Any], None]) -> None:
    """Deliver what a re-attached job reported while nobody listened (seq de-duplicates)."""
    try:
        for event in client.get_events(topic):
            handler(event)
    except Exception:
        log.debug("no progress history for %s", topic, exc_info=True)
