"""What runs on a Dask worker: the wrapper around a job body, and the names a job is known by.

Kept apart from ``dask.py`` so a worker unpickles a small module. The body itself travels by
reference (its module must be importable on the worker, as with any Dask task).
"""

from __future__ import annotations

from typing import Any

from sgr_kernel.dispatch._jobctx import RunningJob, run_body
from sgr_kernel.dispatch.base import JobFunction, Progress

__all__ = ["PREFIX", "cancel_event", "dask_key", "key_of", "progress_topic", "run_job"]

PREFIX = "sgr/"
"""Every Dask key and published dataset of a job starts with it (``sgr/<idempotency key>``)."""


def dask_key(key: str) -> str:
    """The Dask key and dataset name of the job with idempotency key ``key``."""
    return PREFIX + key


def key_of(name: str) -> str | None:
    """The idempotency key inside a Dask key or dataset name; None when it is not ours.

    A resubmit after a job error runs under ``sgr/<key>~N``."""
    if not (isinstance(name, str) and name.startswith(PREFIX)):
        return None
    key = name[len(PREFIX) :]
    base, sep, gen = key.rpartition("~")
    return base if sep and gen.isdigit() else key


def progress_topic(key: str) -> str:
    """The scheduler event topic a job's progress goes to (its history survives the client)."""
    return "sgr-progress/" + key


def cancel_event(key: str) -> str:
    """The name of the ``distributed.Event`` that asks the job to stop."""
    return "sgr-cancel/" + key


def run_job(
    fn: JobFunction, params: dict[str, Any], key: str, poll_s: float
) -> tuple[dict[str, Any], int]:
    """The Dask task: run ``fn(**params)`` with a job context wired to the scheduler.

    Returns the body's result and how many progress reports it made (so a client that missed
    some, having re-attached, knows to read the history)."""
    import distributed

    worker = distributed.get_worker()
    make_event: Any = distributed.Event
    topic = progress_topic(key)
    event: list[Any] = []

    def emit(p: Progress) -> None:
        worker.log_event(topic, p.model_dump(mode="json"))

    def is_cancelled() -> bool:
        if not event:
            event.append(make_event(cancel_event(key)))
        return bool(event[0].is_set())

    ctx = RunningJob(key, emit, is_cancelled, poll_s=poll_s)
    return run_body(fn, params, ctx), ctx.reports
