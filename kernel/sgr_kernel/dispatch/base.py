"""The dispatcher contract: heavy work as a ``RemoteJobSpec`` for a backend (DESIGN §3.7).

Promise: at least once on workers, exactly once in the trace. The job key (the spec's
``idempotency_key``) is written to the WAL before submit; on resume the dispatcher
re-attaches to a job its backend still knows, else resubmits under the same key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from sgr_kernel.models.remote import RemoteJobSpec

__all__ = ["Dispatcher", "JobFunction", "JobHandle", "job", "job_function"]

JobFunction = Callable[..., dict[str, Any]]
"""A job: keyword params in, a JSON-serialisable dict out. Runs on a worker."""

_JOBS: dict[str, JobFunction] = {}


def job(job_type: str) -> Callable[[JobFunction], JobFunction]:
    """Register a function as the worker-side body of ``job_type``."""

    def deco(fn: JobFunction) -> JobFunction:
        _JOBS[job_type] = fn
        return fn

    return deco


def job_function(job_type: str) -> JobFunction:
    """The registered function for ``job_type``; ``KeyError`` when none."""
    return _JOBS[job_type]


class JobHandle(BaseModel):
    """A submitted job."""

    model_config = ConfigDict(frozen=True)

    key: str
    backend: str
    reattached: bool = False


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
