"""The inline dispatcher: runs registered jobs in this process (tests, the embedded default).

Jobs are blocking functions, so they run in a worker thread; a job known under the same
idempotency key is re-attached to, never run twice while this dispatcher lives. Job bodies get
the same :func:`~sgr_kernel.dispatch.base.current_job` context as on Dask.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sgr_kernel.dispatch._jobctx import CANCELLED, RunningJob, run_body
from sgr_kernel.dispatch.base import JobHandle, Progress, ProgressCallback, job_function
from sgr_kernel.errors import RemoteJobError, StepTimeout
from sgr_kernel.models.remote import RemoteJobSpec

__all__ = ["InlineDispatcher"]


class _Job:
    def __init__(self, key: str) -> None:
        self.stop = threading.Event()
        self.history: list[Progress] = []
        self.watchers: list[ProgressCallback] = []
        self.lock = threading.Lock()
        self.ctx = RunningJob(key, self.report, self.stop.is_set, poll_s=0.0)
        self.future: asyncio.Future[dict[str, Any]] | None = None

    def report(self, p: Progress) -> None:
        with self.lock:
            self.history.append(p)
            watchers = list(self.watchers)
        for cb in watchers:
            cb(p)


class InlineDispatcher:
    """In-process backend for :class:`~sgr_kernel.dispatch.base.Dispatcher`."""

    name = "inline"

    def __init__(self) -> None:
        self._jobs: dict[str, _Job] = {}
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
        job = _Job(key)
        loop = asyncio.get_running_loop()
        job.future = loop.run_in_executor(None, run_body, fn, dict(spec.params), job.ctx)
        self._jobs[key] = job
        return JobHandle(key=key, backend=self.name)

    def watch(self, handle: JobHandle, callback: ProgressCallback) -> None:
        job = self._jobs[handle.key]
        with job.lock:
            past = list(job.history)
            job.watchers.append(callback)
        for p in past:
            callback(p)

    async def result(self, handle: JobHandle, *, timeout_s: float | None) -> dict[str, Any]:
        job = self._jobs[handle.key]
        assert job.future is not None
        try:
            out = dict(await asyncio.wait_for(asyncio.shield(job.future), timeout_s))
        except TimeoutError:
            job.stop.set()
            raise StepTimeout(f"job {handle.key} gave no result within {timeout_s:g}s") from None
        except asyncio.CancelledError:
            job.stop.set()
            raise
        except (RemoteJobError, StepTimeout):
            raise
        except Exception as e:
            raise RemoteJobError(f"job {handle.key} failed: {type(e).__name__}: {e}") from e
        if CANCELLED in out:
            raise RemoteJobError(f"job {handle.key} stopped: it was cancelled")
        return out

    async def release(self, handle: JobHandle) -> None:
        self._jobs.pop(handle.key, None)

    async def cancel(self, handle: JobHandle) -> None:
        job = self._jobs.get(handle.key)
        if job is not None:
            job.stop.set()  # a thread cannot be killed: the body must look at cancelled()
            if job.future is not None:
                job.future.cancel()

    async def close(self) -> None:
        for job in self._jobs.values():
            job.stop.set()
            if job.future is not None:
                job.future.cancel()
        self._jobs.clear()
