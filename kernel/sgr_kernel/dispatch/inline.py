"""The inline dispatcher: runs registered jobs in this process (tests, the embedded default).

Jobs are blocking functions, so they run in a worker thread; a job known under the same
idempotency key is re-attached to, never run twice while this dispatcher lives.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sgr_kernel.dispatch.base import JobHandle, job_function
from sgr_kernel.errors import RemoteJobError, StepTimeout
from sgr_kernel.models.remote import RemoteJobSpec

__all__ = ["InlineDispatcher"]


class InlineDispatcher:
    """In-process backend for :class:`~sgr_kernel.dispatch.base.Dispatcher`."""

    name = "inline"

    def __init__(self) -> None:
        self._jobs: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.submitted = 0

    async def submit(self, spec: RemoteJobSpec) -> JobHandle:
        key = spec.idempotency_key
        if key in self._jobs:
            return JobHandle(key=key, backend=self.name, reattached=True)
        try:
            fn = job_function(spec.job_type)
        except KeyError:
            raise RemoteJobError(f"no job function registered for {spec.job_type!r}") from None
        self.submitted += 1
        loop = asyncio.get_running_loop()
        self._jobs[key] = loop.run_in_executor(None, lambda: fn(**spec.params))
        return JobHandle(key=key, backend=self.name)

    async def result(self, handle: JobHandle, *, timeout_s: float | None) -> dict[str, Any]:
        fut = self._jobs[handle.key]
        try:
            return dict(await asyncio.wait_for(asyncio.shield(fut), timeout_s))
        except TimeoutError:
            raise StepTimeout(f"job {handle.key} gave no result within {timeout_s:g}s") from None
        except (RemoteJobError, StepTimeout):
            raise
        except Exception as e:
            raise RemoteJobError(f"job {handle.key} failed: {type(e).__name__}: {e}") from e

    async def cancel(self, handle: JobHandle) -> None:
        fut = self._jobs.get(handle.key)
        if fut is not None:
            fut.cancel()

    async def close(self) -> None:
        for fut in self._jobs.values():
            fut.cancel()
        self._jobs.clear()
