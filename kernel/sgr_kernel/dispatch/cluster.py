"""What the CLI, the magics and the side panel show of a Dask cluster, computed once here:
workers (resources, memory), and the sgr jobs the scheduler holds with their run and step.

The renderers only format :class:`ClusterView`; :func:`cancel_jobs` stops jobs by key or run
the same way a deadline does (cooperative first, then the worker is restarted).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.dispatch._dask_job import PREFIX, cancel_event, key_of

__all__ = [
    "ClusterView",
    "JobView",
    "WorkerView",
    "cancel_jobs",
    "check_address",
    "cluster_view",
    "configured_address",
    "connected",
    "render_text",
    "start_local",
]


class WorkerView(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    name: str
    nthreads: int
    memory_limit: int = Field(description="Bytes (0 = no limit).")
    memory_used: int = Field(description="Bytes the worker process uses now.")
    resources: dict[str, float]
    jobs: list[str] = Field(description="Idempotency keys of the sgr jobs running there.")


class JobView(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    run_id: str
    step: str
    state: str = Field(description="processing | memory (done) | erred | waiting | released …")
    worker: str | None = None
    task: str = Field("", description="The Dask key (``sgr/<key>``, ``~N`` after a resubmit).")


class ClusterView(BaseModel):
    model_config = ConfigDict(frozen=True)

    scheduler: str
    workers: list[WorkerView]
    jobs: list[JobView]


def configured_address() -> str | None:
    """The scheduler address from ``SGR_DASK_ADDRESS`` / ``[tool.sgr.dask]``, if any."""
    from sgr_kernel.dispatch.config import load_dispatch_settings

    return load_dispatch_settings().address


def check_address(address: str, timeout_s: float = 5.0, *, wait_s: float = 0.0) -> None:
    """Raise :class:`~sgr_kernel.errors.ClusterConnectError` (one line) unless something
    listens at a well-formed scheduler address. ``wait_s`` > 0 keeps trying that long while
    nothing listens yet or the host name does not resolve yet: a scheduler started together
    with its workers (containers, a job script) comes up after them."""
    from sgr_kernel.dispatch._dask_connect import _check_address, require_distributed
    from sgr_kernel.errors import ClusterConnectError

    require_distributed()
    _check_address(address)
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    deadline = time.monotonic() + wait_s
    pause = 0.1
    while True:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
            return
        except OSError as e:
            left = deadline - time.monotonic()
            if left <= 0:
                waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
                raise ClusterConnectError(
                    f"nothing answers at {address} ({e.strerror or e}){waited}; "
                    "is the scheduler running there?"
                ) from None
        time.sleep(min(pause, left))
        pause = min(pause * 2, 2.0)


@contextlib.contextmanager
def connected(address: str) -> Iterator[Any]:
    """A short-lived client for looking at (or cancelling on) a cluster."""
    from sgr_kernel.dispatch._dask_connect import connect
    from sgr_kernel.dispatch.config import load_dispatch_settings

    settings = load_dispatch_settings()
    check_address(address, settings.connect_timeout_s)
    client, _ = connect(settings, address)
    try:
        yield client
    finally:
        client.close()


def start_local(n_workers: int, *, port: int = 0) -> Any:
    """A ``LocalCluster`` with the project's Dask settings; the caller keeps it alive."""
    import logging

    from sgr_kernel.dispatch._dask_connect import apply_dask_settings, require_distributed
    from sgr_kernel.dispatch.config import load_dispatch_settings

    distributed = require_distributed()
    settings = load_dispatch_settings()
    apply_dask_settings(settings)
    return distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=settings.local_threads,
        scheduler_port=port,
        dashboard_address=":0",  # None still binds the HTTP server to 8787 (warns when busy)
        silence_logs=logging.ERROR,
    )


def _split(key: str) -> tuple[str, str]:
    parts = key.split(":")
    return (parts[0], parts[1]) if len(parts) >= 3 else (key, "")


def _states(dask_scheduler: Any, prefix: str) -> dict[str, tuple[str, str | None]]:
    """Runs on the scheduler: the state and worker of every task whose key has ``prefix``."""
    out: dict[str, tuple[str, str | None]] = {}
    for k, ts in dask_scheduler.tasks.items():
        if isinstance(k, str) and k.startswith(prefix):
            w = ts.processing_on.address if ts.processing_on is not None else None
            out[k] = (ts.state, w)
    return out


def cluster_view(client: Any) -> ClusterView:
    """Workers and the sgr jobs the scheduler holds (published or running)."""
    info = client.scheduler_info()
    try:
        states = client.run_on_scheduler(_states, prefix=PREFIX)
    except Exception:  # the scheduler cannot import sgr_kernel: fall back to public calls
        states = {}
        for w, keys in client.processing().items():
            for k in keys:
                states[k] = ("processing", w)
        for name in client.list_datasets():
            states.setdefault(name, ("held", None))
    jobs = []
    for dkey, (state, worker) in sorted(states.items()):
        key = key_of(dkey)
        if key is None:
            continue
        run_id, step = _split(key)
        jobs.append(
            JobView(key=key, run_id=run_id, step=step, state=state, worker=worker, task=dkey)
        )
    workers = []
    for addr, w in sorted(info.get("workers", {}).items()):
        workers.append(
            WorkerView(
                address=addr,
                name=str(w.get("name", addr)),
                nthreads=int(w.get("nthreads", 0)),
                memory_limit=int(w.get("memory_limit") or 0),
                memory_used=int((w.get("metrics") or {}).get("memory") or 0),
                resources={k: float(v) for k, v in (w.get("resources") or {}).items()},
                jobs=[j.key for j in jobs if j.worker == addr and j.state == "processing"],
            )
        )
    return ClusterView(scheduler=str(info.get("address", "")), workers=workers, jobs=jobs)


def cancel_jobs(client: Any, target: str, *, grace_s: float = 2.0) -> list[str]:
    """Stop every held job whose key is ``target`` or belongs to run ``target``.

    Each is asked to stop (its cancel event); those still running after ``grace_s`` are
    forgotten and their workers restarted. Returns the keys stopped.
    """
    import distributed

    make_event: Any = distributed.Event
    view = cluster_view(client)
    keys = [j.key for j in view.jobs if target in (j.key, j.run_id)]
    for key in keys:
        make_event(cancel_event(key), client=client).set()
    deadline = time.monotonic() + grace_s
    running = set(keys)
    while running and time.monotonic() < deadline:
        now = {j.key for j in cluster_view(client).jobs if j.state == "processing"}
        running &= now
        if running:
            time.sleep(0.1)
    restart: set[str] = set()
    final = {j.key: j for j in cluster_view(client).jobs if j.state == "processing"}
    forget: list[Any] = []
    for key in keys:
        with contextlib.suppress(KeyError):
            client.unpublish_dataset(PREFIX + key)
        j = final.get(key)
        if key in running and j is not None and j.worker:
            restart.add(j.worker)
            forget.append(distributed.Future(j.task, client))
    if forget:  # every holder lets go (the run's own client too), then the worker restarts
        client.cancel(forget, force=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            f.key in ks for ks in client.processing().values() for f in forget
        ):
            time.sleep(0.05)
    if restart:
        client.restart_workers(sorted(restart), timeout=30, raise_for_error=False)
    return keys


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n else "-"


def render_text(view: ClusterView) -> str:
    """The plain-text form (CLI, magics' text/plain)."""
    lines = [f"scheduler {view.scheduler}: {len(view.workers)} worker(s), {len(view.jobs)} job(s)"]
    for w in view.workers:
        res = ", ".join(f"{k}={v:g}" for k, v in sorted(w.resources.items())) or "-"
        lines.append(
            f"  worker {w.name} {w.address} threads={w.nthreads} "
            f"memory={_gb(w.memory_used)}/{_gb(w.memory_limit)} resources={res} "
            f"running={len(w.jobs)}"
        )
    for j in view.jobs:
        where = f" on {j.worker}" if j.worker else ""
        lines.append(f"  job {j.key} run={j.run_id} step={j.step} {j.state}{where}")
    return "\n".join(lines)
