"""The dispatcher's blocking conversations with a Dask cluster, kept out of its async logic:
resource placement, stopping a job for good, error wording, and batched result fetches.
Everything here runs on the dispatcher's thread pool, never on a run's event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from typing import Any

from sgr_kernel.dispatch._dask_job import cancel_event, dask_key
from sgr_kernel.dispatch.base import JobCancelled
from sgr_kernel.errors import RemoteJobError, RemoteResourceUnavailable
from sgr_kernel.models.remote import RemoteJobSpec

__all__ = [
    "BatchGather",
    "BatchHolds",
    "cancel_asked",
    "job_error",
    "kill",
    "missing_resources",
    "parse_resources",
    "retryable",
]

log = logging.getLogger(__name__)


def parse_resources(spec: RemoteJobSpec) -> dict[str, float]:
    """``RemoteJobSpec.resources`` as Dask worker resources (numbers; sizes like '8GB')."""
    from dask.utils import parse_bytes

    out: dict[str, float] = {}
    for name, value in spec.resources.items():
        try:
            out[name] = float(parse_bytes(value) if isinstance(value, str) else value)
        except (ValueError, TypeError):
            raise RemoteResourceUnavailable(
                f"job {spec.idempotency_key}: resource {name}={value!r} is not a number or a "
                "size like '8GB'"
            ) from None
    return out


def missing_resources(client: Any, key: str, want: dict[str, float], waited_s: float) -> str:
    """Why no worker fits (empty when one does)."""
    workers = client.scheduler_info().get("workers", {}).values()
    offered = [w.get("resources") or {} for w in workers]
    if any(all(r.get(k, 0) >= v for k, v in want.items()) for r in offered):
        return ""
    have = sorted({f"{k}={v:g}" for r in offered for k, v in r.items()}) or ["none"]
    asked = ", ".join(f"{k}={v:g}" for k, v in want.items())
    return (
        f"job {key} needs {asked} but none of the {len(offered)} worker(s) offers it after "
        f"{waited_s:g}s (offered: {', '.join(have)}); start one with "
        f"`sgr worker ADDRESS --resources {asked.replace(', ', ',')}`"
    )


def kill(client: Any, key: str, future: Any) -> None:
    """Forget the job everywhere, then restart the worker that was running it."""
    task = future.key
    where = [w for w, keys in client.processing().items() if task in keys]
    with contextlib.suppress(KeyError):  # forget it first: the restart must not re-run it
        client.unpublish_dataset(dask_key(key))
    client.cancel([future], force=True)
    # The scheduler releases the task a moment later; a restart before that would run the
    # job again on another worker.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(task in ks for ks in client.processing().values()):
        time.sleep(0.05)
    if where:
        try:
            client.restart_workers(where, timeout=30, raise_for_error=False)
        except Exception:
            log.warning("could not restart worker(s) %s for %s", where, key, exc_info=True)


def cancel_asked(client: Any, key: str) -> bool:
    """Someone (``sgr cluster cancel``) asked the job to stop: it is not a lost job."""
    import distributed

    make_event: Any = distributed.Event
    try:
        return bool(make_event(cancel_event(key), client=client).is_set())
    except Exception:  # the scheduler is gone, and its events with it
        return False


def retryable(exc: BaseException | None) -> bool:
    """The body raised: worth a resubmit (``spec.retries``). A poison job is not."""
    from distributed.scheduler import KilledWorker

    return not isinstance(exc, KilledWorker)


def job_error(key: str, exc: BaseException | None, allowed_failures: int) -> RemoteJobError:
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        return RemoteJobError(
            f"remote job {key} killed its worker {allowed_failures + 1} time(s) and was given "
            "up as poison (a crash, or more memory than the worker has)"
        )
    if isinstance(exc, JobCancelled):
        return RemoteJobError(f"remote job {key} stopped: it was cancelled")
    return RemoteJobError(f"remote job {key} failed: {type(exc).__name__}: {exc}")


class BatchGather:
    """Values of finished futures; those finishing together come back in one ``gather`` round
    trip (1,000 tiny jobs would otherwise queue one by one for the pool's threads)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._pending: list[tuple[Any, asyncio.Future[Any], asyncio.AbstractEventLoop]] = []
        self._running = False
        self.client: Any = None

    def __call__(self, fut: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            self._pending.append((fut, waiter, loop))
            start, self._running = not self._running, True
        if start:
            self._pool.submit(self._drain)
        return waiter

    def _drain(self) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._running = False
                    return
            futs = [f for f, _, _ in batch]
            try:
                values = self.client.gather(futs) if len(futs) > 1 else [futs[0].result()]
                outcome: list[tuple[Any, BaseException | None]] = [(v, None) for v in values]
            except Exception:  # one bad apple: fetch them one by one
                outcome = []
                for f in futs:
                    try:
                        outcome.append((f.result(), None))
                    except Exception as e:
                        outcome.append((None, e))
            for (_, w, loop), (value, error) in zip(batch, outcome, strict=True):
                loop.call_soon_threadsafe(_deliver, w, value, error)


def _deliver(w: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if w.done():
        return
    if error is not None:
        w.set_exception(error)
    else:
        w.set_result(value)


class BatchHolds:
    """Publishes and unpublishes jobs' datasets in batches, in order, from one thread.

    A burst of 1,000 jobs would otherwise cost 2,000 scheduler round trips on the pool's
    threads, and a publish could land after the unpublish of the same job and hold it forever.
    Here a hold and a drop of the same name cancel out before anything is sent, each flush
    sends at most one ``unpublish_dataset`` and one ``publish_dataset``, and flushes run one
    after another.
    """

    def __init__(self) -> None:
        self._exec = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sgr-dask-hold")
        self._lock = threading.Lock()
        self._publish: dict[str, Any] = {}
        self._unpublish: set[str] = set()
        self._next: concurrent.futures.Future[None] | None = None
        self.client: Any = None
        self.round_trips = 0

    def hold(self, name: str, fut: Any) -> None:
        """Have the scheduler hold ``fut`` under ``name`` (soon, with others)."""
        with self._lock:
            self._publish[name] = fut
            self._unpublish.discard(name)
            self._schedule()

    def drop(self, name: str) -> concurrent.futures.Future[None]:
        """Let go of ``name``; the returned future is done once the scheduler has."""
        with self._lock:
            if self._publish.pop(name, None) is None:
                self._unpublish.add(name)
            return self._schedule()

    def _schedule(self) -> concurrent.futures.Future[None]:
        if self._next is None:
            self._next = self._exec.submit(self._flush)
        return self._next

    def _flush(self) -> None:
        with self._lock:
            publish, self._publish = self._publish, {}
            unpublish, self._unpublish = self._unpublish, set()
            self._next = None
        client = self.client
        if client is None:
            return
        try:
            if unpublish:
                self.round_trips += 1
                client.unpublish_dataset(sorted(unpublish))
            if publish:
                self.round_trips += 1
                client.publish_dataset(publish, override=True)
        except Exception:  # the scheduler went away: its jobs are resubmitted when it is back
            log.warning("could not update %d held job(s)", len(publish) + len(unpublish))

    def close(self) -> None:
        self._exec.shutdown(wait=False)
