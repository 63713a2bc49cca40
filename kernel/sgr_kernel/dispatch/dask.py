"""The Dask dispatcher: remote jobs on a ``distributed`` cluster.

A job's Dask key is ``sgr/<idempotency key>`` and the scheduler holds it as a published
dataset of the same name, so the job outlives the notebook kernel that submitted it. Submitting
a key the scheduler still holds attaches to that task (nothing runs twice); a key it forgot
(a restarted scheduler) is submitted afresh. The result is taken, recorded by the run, and only
then released (:meth:`DaskDispatcher.release`). Deadlines are the dispatcher's own: past one, the
job is asked to stop through a ``distributed.Event`` and, after ``cancel_grace_s``, the worker
running it is restarted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sgr_kernel.dispatch import _dask_ops as ops
from sgr_kernel.dispatch._dask_job import (
    cancel_event,
    dask_key,
    key_of,
    progress_topic,
    run_job,
)
from sgr_kernel.dispatch._dask_watch import Job, deliver_history, progress_handler
from sgr_kernel.dispatch._jobctx import CANCELLED
from sgr_kernel.dispatch.base import (
    JobHandle,
    ProgressCallback,
    job_function,
)
from sgr_kernel.dispatch.config import DispatchSettings, load_dispatch_settings
from sgr_kernel.errors import RemoteJobError, RemoteResourceUnavailable, StepTimeout
from sgr_kernel.models.remote import RemoteJobSpec

__all__ = ["DaskDispatcher"]

log = logging.getLogger(__name__)
T = TypeVar("T")
CANCEL_POLL_S = 0.2
HOLD_AFTER_S = 0.1
"""A job still running after this long is published (held by the scheduler for whoever
re-attaches). Shorter jobs skip the round trip; if the kernel dies inside this window the
job is simply run again on resume (at least once on workers)."""


class DaskDispatcher:
    """A :class:`~sgr_kernel.dispatch.base.ObservableDispatcher` on Dask distributed.

    Args:
        client: A ``distributed.Client`` to use (the caller keeps owning it).
        address: A scheduler address to connect to.
        settings: Dispatcher settings (default: :func:`load_dispatch_settings`).

    With neither client nor address (nor one in the settings), a client already live in this
    process is used, else an embedded ``LocalCluster`` is started on first use.
    """

    name = "dask"

    def __init__(
        self,
        client: Any = None,
        *,
        address: str | None = None,
        settings: DispatchSettings | None = None,
    ) -> None:
        self.settings = settings or load_dispatch_settings()
        self._address = address or self.settings.address
        self._client = client
        self._given = client is not None
        self._cluster: Any = None
        self._jobs: dict[str, Job] = {}
        self._held_before: set[str] | None = None  # keys the scheduler held when we came
        self._generation: dict[str, int] = {}  # how often this dispatcher submitted each key
        self._pool = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="sgr-dask")
        self._gather = ops.BatchGather(self._pool)
        self._holds = ops.BatchHolds()
        self._lock = threading.Lock()
        self.submitted = 0
        """Dask submits made (a re-attach by key counts too: the scheduler decides)."""
        self.resubmitted = 0
        """Jobs submitted again because the scheduler forgot them."""

    # ------------------------------------------------------------ the client

    def connect(self) -> Any:
        """The client, connecting (or starting the embedded cluster) on first use. Blocking."""
        from sgr_kernel.dispatch._dask_connect import connect

        with self._lock:
            c = self._client
            if c is None or (not self._given and c.status in ("closed", "closing")):
                self._client, cluster = connect(self.settings, self._address)
                self._cluster = self._cluster or cluster
            self._gather.client = self._holds.client = self._client
            return self._client

    async def _in_pool(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _aclient(self) -> Any:
        c = self._client
        if c is not None and c.status == "running":
            return c
        try:
            return await self._in_pool(self.connect)
        except RemoteJobError:
            raise
        except Exception as e:  # ClusterConnectError and friends fail the step, clearly
            raise RemoteJobError(str(e)) from e

    @property
    def client(self) -> Any:
        return self.connect()

    # ------------------------------------------------------------ submit

    async def submit(self, spec: RemoteJobSpec) -> JobHandle:
        key = spec.idempotency_key
        if key in self._jobs:
            return JobHandle(key=key, backend=self.name, reattached=True)
        try:
            fn = job_function(spec.job_type)
        except KeyError:
            raise RemoteJobError(
                f"no job function registered for {spec.job_type!r}; import the module that "
                "declares it with @job before running"
            ) from None
        client = await self._aclient()
        if self._held_before is None:
            names = await self._in_pool(client.list_datasets)
            self._held_before = {k for k in map(key_of, names) if k is not None}
        job = Job(spec, fn, ops.parse_resources(spec))
        held = None
        if key in self._held_before:  # a job a previous kernel left running: attach to it
            self._held_before.discard(key)
            try:
                held = await self._in_pool(client.get_dataset, dask_key(key))
            except KeyError:
                held = None  # let go meanwhile: submit afresh
        # A key submitted again here (a retry of a failed attempt) gets a fresh Dask key: the
        # released one may linger a moment, and submitting it would attach to its error.
        job.generation = self._generation[key] = self._generation.get(key, -1) + 1
        if job.resources and held is None:
            await self._await_resources(client, job)
        self._jobs[key] = job
        self._launch(client, job, held)
        job.held = job.held or held is not None  # release then lets go of the old dataset
        job.attached = held is not None
        return JobHandle(key=key, backend=self.name, reattached=held is not None)

    def _launch(self, client: Any, job: Job, held: Any = None) -> None:
        """Submit the job (or adopt ``held``, the future a dataset gave back) and watch it."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        job.done = done
        spec = job.spec
        if held is not None:
            fut = held
        else:
            # A resubmit after a job error gets a fresh Dask key: the erred one may linger.
            suffix = f"~{job.generation}" if job.generation else ""
            fut = client.submit(
                run_job,
                job.fn,
                dict(spec.params),
                job.key,
                CANCEL_POLL_S,
                key=dask_key(job.key) + suffix,
                resources=job.resources or None,
                priority=spec.priority,
                pure=False,
                retries=0,
            )
            self.submitted += 1
        job.future = fut

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        def settle(_: Any) -> None:
            loop.call_soon_threadsafe(wake)

        fut.add_done_callback(settle)
        job.timer = loop.call_later(HOLD_AFTER_S, self._hold, client, job, fut)
        if job.watching is not None:
            self._subscribe(client, job)

    def _hold(self, client: Any, job: Job, fut: Any) -> None:
        """Held by the scheduler under the job's name: a client that dies leaves it running."""
        if fut.done() or job.future is not fut:
            return
        job.held = True
        self._holds.hold(dask_key(job.key), fut)

    async def _await_resources(self, client: Any, job: Job) -> None:
        loop = asyncio.get_running_loop()
        wait = self.settings.resource_wait_s
        deadline = loop.time() + wait
        while True:
            why = await self._in_pool(ops.missing_resources, client, job.key, job.resources, wait)
            if not why:
                return
            if loop.time() >= deadline:
                raise RemoteResourceUnavailable(why)
            await asyncio.sleep(0.25)

    # ------------------------------------------------------------ progress

    def watch(self, handle: JobHandle, callback: ProgressCallback) -> None:
        job = self._jobs[handle.key]
        job.watching = progress_handler(job, callback)
        if self._client is not None:
            self._subscribe(self._client, job)
            if job.attached and job.history is not None:
                self._pool.submit(job.history)  # what it reported while no kernel listened

    def _subscribe(self, client: Any, job: Job) -> None:
        topic = progress_topic(job.key)
        handler = job.watching
        assert handler is not None
        client.subscribe_topic(topic, handler)
        job.history = lambda: deliver_history(client, topic, handler)

    # ------------------------------------------------------------ result

    async def result(self, handle: JobHandle, *, timeout_s: float | None) -> dict[str, Any]:
        job = self._jobs.get(handle.key)
        if job is None:
            raise RemoteJobError(f"job {handle.key} was not submitted through this dispatcher")
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while True:
            assert job.done is not None
            left = None if deadline is None else max(deadline - loop.time(), 0)
            try:
                await asyncio.wait_for(asyncio.shield(job.done), left)
            except TimeoutError:
                await self._stop(job)
                raise StepTimeout(
                    f"remote job {job.key} ran past its {timeout_s:g}s deadline; it was asked "
                    "to stop and its worker restarted"
                ) from None
            except asyncio.CancelledError:
                await asyncio.shield(self._stop(job))
                raise
            status = job.future.status
            if status == "finished":
                out, reports = await self._gather(job.future)
                if job.history is not None and reports > job.seen:
                    await self._in_pool(job.history)  # a re-attached job: catch up
                if CANCELLED in out:
                    raise RemoteJobError(f"remote job {job.key} stopped: it was cancelled")
                return dict(out)
            if status == "error":
                exc = await self._in_pool(job.future.exception)
                if job.retries_left > 0 and not job.stopping and ops.retryable(exc):
                    job.retries_left -= 1
                    job.generation = self._generation[job.key] = job.generation + 1
                    await self._forget(job)
                    self._launch(self._client, job)
                    continue
                raise ops.job_error(job.key, exc, self.settings.allowed_failures)
            if job.stopping or await self._in_pool(ops.cancel_asked, self._client, job.key):
                raise RemoteJobError(f"remote job {job.key} was cancelled")
            # Cancelled without us asking: the scheduler forgot the job (it restarted, or the
            # connection dropped). Submit it again under the same key once it is reachable.
            await self._relaunch(job, deadline)

    async def _relaunch(self, job: Job, deadline: float | None) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + self.settings.reconnect_s
        if deadline is not None:
            until = min(until, deadline)
        while True:
            c = self._client
            if c is not None and c.status == "running":
                break
            if c is not None and c.status in ("closed", "closing"):
                try:
                    c = await self._aclient()
                    break
                except RemoteJobError:
                    pass
            if loop.time() >= until:
                raise RemoteJobError(
                    f"remote job {job.key} was lost with its scheduler, which did not come back "
                    f"within {self.settings.reconnect_s:g}s"
                )
            await asyncio.sleep(0.2)
        self.resubmitted += 1
        log.warning("resubmitting %s: the scheduler no longer knew it", job.key)
        self._launch(c, job)

    async def _forget(self, job: Job, *, wait: bool = True) -> None:
        if job.timer is not None:
            job.timer.cancel()
        fut, held = job.future, job.held
        job.held = False
        dropped = self._holds.drop(dask_key(job.key)) if held else None
        fut.release()
        if wait and dropped is not None:
            await asyncio.wrap_future(dropped)

    # ------------------------------------------------------------ stop, release

    async def _stop(self, job: Job) -> None:
        """Cooperative cancel, then (past the grace time) restart the worker that runs it."""
        job.stopping = True
        client = self._client
        if client is None or job.future is None or job.future.done():
            await self.release(JobHandle(key=job.key, backend=self.name))
            return
        import distributed

        make_event: Any = distributed.Event
        try:
            await self._in_pool(lambda: make_event(cancel_event(job.key), client=client).set())
            assert job.done is not None
            await asyncio.wait_for(asyncio.shield(job.done), self.settings.cancel_grace_s)
        except (TimeoutError, OSError):
            await self._in_pool(ops.kill, client, job.key, job.future)
        await self.release(JobHandle(key=job.key, backend=self.name))

    async def release(self, handle: JobHandle) -> None:
        job = self._jobs.pop(handle.key, None)
        if job is None or self._client is None:
            return
        if job.watching is not None:
            self._client.unsubscribe_topic(progress_topic(job.key))
        # A finished job's key may as well stay attachable a moment longer; any other must be
        # gone before a retry reuses the key.
        await self._forget(job, wait=job.future.status != "finished")

    async def cancel(self, handle: JobHandle) -> None:
        job = self._jobs.get(handle.key)
        if job is not None:
            await self._stop(job)

    async def close(self) -> None:
        """Disconnect. Jobs in flight are left to the scheduler that holds them (a resumed run
        re-attaches); an embedded cluster is shut down with them."""
        self._jobs.clear()
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None and not self._given:
            await self._in_pool(client.close)
        if cluster is not None:
            await self._in_pool(cluster.close)
        self._holds.close()
        self._pool.shutdown(wait=False)
