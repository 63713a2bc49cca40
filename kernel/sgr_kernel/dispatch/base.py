"""The dispatcher contract: heavy work as a ``RemoteJobSpec`` for a backend.

Promise: at least once on workers, exactly once in the trace. The job key (the spec's
``idempotency_key``) is written to the WAL before submit; on resume the dispatcher
re-attaches to a job its backend still knows, else resubmits under the same key.

A job body is a plain function registered with :func:`job`; while it runs,
:func:`current_job` gives it a :class:`JobContext` (progress, cooperative cancel, an artifact
directory) whichever backend runs it. Files left in the artifact directory come back with the
result under :data:`ARTIFACTS` as ``{name: bytes}``, and the run stores them by content.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.models.remote import RemoteJobSpec

__all__ = [
    "ARTIFACTS",
    "Dispatcher",
    "JobCancelled",
    "JobContext",
    "JobFunction",
    "JobHandle",
    "ObservableDispatcher",
    "Progress",
    "ProgressCallback",
    "current_job",
    "job",
    "job_function",
    "set_current_job",
]

JobFunction = Callable[..., dict[str, Any]]
"""A job: keyword params in, a JSON-serialisable dict out. Runs on a worker."""

ARTIFACTS = "artifacts"
"""The result key under which a job's artifact files come back (``{name: bytes}`` from the
backend; the run replaces it with a list of stored ``ArtifactRef`` values)."""

_JOBS: dict[str, JobFunction] = {}


def job(job_type: str) -> Callable[[JobFunction], JobFunction]:
    """Register a function as the worker-side body of ``job_type``."""

    def deco(fn: JobFunction) -> JobFunction:
        _JOBS[job_type] = fn
        return fn

    return deco


def job_function(job_type: str) -> JobFunction:
    """The registered function for ``job_type``; ``KeyError`` when none."""
    if job_type not in _JOBS and job_type.startswith("sgr."):
        import sgr_kernel.dispatch.sandbox_job  # noqa: F401 (the built-in jobs register)
    return _JOBS[job_type]


class JobHandle(BaseModel):
    """A submitted job."""

    model_config = ConfigDict(frozen=True)

    key: str
    backend: str
    reattached: bool = False


class Progress(BaseModel):
    """One progress report of a job, as it crosses from the worker to the run."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="The job's idempotency key.")
    seq: int = Field(
        description="1, 2, … per execution of the job: replayed history is de-duplicated by it "
        "(with ``run``)."
    )
    run: int = Field(
        0,
        description="Which execution sent it: a job Dask runs again after its worker died "
        "numbers its reports from 1 again, under a new ``run``.",
    )
    fraction: float | None = Field(None, description="0..1 when known.")
    message: str = Field("", description="The latest human-readable status line.")
    metrics: dict[str, float] = Field(default_factory=dict, description="e.g. loss, step.")


ProgressCallback = Callable[[Progress], None]
"""Called with each report; may be called from any thread (marshal to your loop)."""


class JobCancelled(Exception):
    """Raised inside a job body that saw :meth:`JobContext.cancelled` and chose to stop.

    A control-flow signal of the worker side, not part of the kernel's error tree."""


class JobContext(Protocol):
    """What a running job body may ask of its backend."""

    key: str

    def progress(
        self, fraction: float | None = None, message: str = "", **metrics: float
    ) -> None: ...

    def cancelled(self) -> bool: ...

    @property
    def artifact_dir(self) -> Path: ...


_local = threading.local()


def current_job() -> JobContext:
    """The context of the job running on this thread. ``RuntimeError`` outside a job."""
    ctx: JobContext | None = getattr(_local, "job", None)
    if ctx is None:
        raise RuntimeError("current_job() is only available inside a running job body")
    return ctx


def set_current_job(ctx: JobContext | None) -> None:
    """Backends set the context around a job body (one per thread)."""
    _local.job = ctx


@runtime_checkable
class Dispatcher(Protocol):
    """A backend for remote jobs."""

    name: str

    async def submit(self, spec: RemoteJobSpec) -> JobHandle:
        """Submit, or re-attach to a job the backend already knows under the same key."""
        ...

    async def result(self, handle: JobHandle, *, timeout_s: float | None) -> dict[str, Any]:
        """Wait for the job. Raises ``RemoteJobError`` or ``StepTimeout``."""
        ...

    async def cancel(self, handle: JobHandle) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class ObservableDispatcher(Dispatcher, Protocol):
    """A dispatcher that streams progress and can let go of a job once it is recorded."""

    def watch(self, handle: JobHandle, callback: ProgressCallback) -> None:
        """Report the job's progress, its history first (a re-attached job catches up)."""
        ...

    async def release(self, handle: JobHandle) -> None:
        """The result is in the trace: the backend may forget the job (a later attempt under
        the same key then runs afresh)."""
        ...
