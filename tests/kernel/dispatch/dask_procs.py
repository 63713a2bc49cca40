"""Real Dask processes for the dispatcher and heavy-skill tests: a scheduler and ``sgr worker``
processes, and :class:`WorkerKiller`, the thread that SIGKILLs a worker while its job runs."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

PY = sys.executable
SGR = [PY, "-m", "sgr_kernel.cli"]


def need_dask() -> None:
    """Skip locally, FAIL under ``CI=true``, when Dask is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and Dask is not installed: pip install 'sgr-jupyter[dask]'")
        pytest.skip("Dask is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, cond: Callable[[], Any], limit_s: float = 60.0) -> Any:
    """Poll ``cond`` until truthy; fail naming ``what`` past the (generous) limit."""
    deadline = time.monotonic() + limit_s
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


class ExternalCluster:
    """A ``dask scheduler`` process and ``sgr worker`` processes on loopback."""

    def __init__(self, tmp: Path, *, allowed_failures: int = 1) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures),
            "SGR_DASK_ADDRESS": self.address,
            "SGR_DISPATCHER": "dask",  # the suite's own default is inline (tests/conftest.py)
        }
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[tuple[subprocess.Popen[bytes], list[str]]] = []

    def _spawn(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.tmp / log, "ab") as out:  # the child keeps its own descriptor
            return subprocess.Popen(
                argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def start_scheduler(self) -> None:
        bindir = Path(PY).parent
        self.scheduler = self._spawn(
            [
                str(bindir / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-dashboard",
            ],
            "scheduler.log",
        )
        wait_until("the scheduler to listen", self._listening)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def start_workers(self, *extra: str, env: dict[str, str] | None = None) -> None:
        argv = [PY, "-m", "sgr_kernel.cli", "worker", self.address, *extra]
        saved = self.env
        self.env = {**saved, **(env or {})}
        try:
            self.workers.append((self._spawn(argv, "workers.log"), list(extra)))
        finally:
            self.env = saved

    def client(self) -> Any:
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def wait_workers(self, n: int) -> None:
        c = self.client()
        try:
            c.wait_for_workers(n, timeout=90)
        finally:
            c.close()

    def kill_scheduler(self) -> None:
        assert self.scheduler is not None
        os.killpg(self.scheduler.pid, signal.SIGKILL)
        self.scheduler.wait()

    def restart_workers(self) -> None:
        old, self.workers = self.workers, []
        for proc, extra in old:
            _kill_group(proc)
            self.start_workers(*extra)

    def close(self) -> None:
        for proc, _ in self.workers:
            _kill_group(proc)
        if self.scheduler is not None:
            _kill_group(self.scheduler)


@contextlib.contextmanager
def cpu_cluster(tmp: Path, workers: int = 2) -> Iterator[ExternalCluster]:
    """A scheduler and ``workers`` single-threaded ``sgr worker`` processes, closed after."""
    need_dask()
    cluster = ExternalCluster(tmp)
    try:
        cluster.start_scheduler()
        cluster.start_workers("--nworkers", str(workers), "--nthreads", "1", "--name", "cpu")
        cluster.wait_workers(workers)
        yield cluster
    finally:
        cluster.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


Victim = tuple[str, Any]
"""(a label naming what dies, e.g. the job key; what to kill: a pid, unless ``kill`` says)."""


def sigkill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class WorkerKiller:
    """A thread that kills workers while a run goes on: it polls ``find`` for victims and
    kills each label's target once (``kill``: SIGKILL a pid by default), ``limit`` kills at
    most. Use it as a context manager around the run; ``killed`` says who died.

    The finders below choose a victim once its job has shown it is under way: the job's own
    start line in an execution log, or its progress reports (a test may bring its own, e.g.
    a checkpoint the job wrote).
    """

    def __init__(
        self,
        find: Callable[[], Iterable[Victim]],
        *,
        limit: int = 1,
        kill: Callable[[Any], None] = sigkill,
    ) -> None:
        self.find, self.limit, self.kill = find, limit, kill
        self.killed: list[Victim] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="worker-killer", daemon=True)

    def _loop(self) -> None:
        done: set[str] = set()
        while not self._stop.is_set() and len(self.killed) < self.limit:
            try:
                found = list(self.find())
            except Exception:  # what it reads is being written: look again at the next poll
                found = []
            for label, target in found:
                if label in done or len(self.killed) >= self.limit:
                    continue
                done.add(label)
                self.kill(target)
                self.killed.append((label, target))
            self._stop.wait(0.05)

    def __enter__(self) -> WorkerKiller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def logged_starts(log: Path) -> Callable[[], list[Victim]]:
    """Jobs that wrote their start (and their worker's pid) to an execution log."""
    from sgr_kernel.testing.jobs import executions

    return lambda: [(key, pid) for key, pid, what in executions(log) if what == "start"]


def progressing(
    client: Any, *, min_reports: int = 1, by_address: bool = False
) -> Callable[[], list[Victim]]:
    """Jobs (``sgr/`` keys) running on a worker that have reported progress ``min_reports``
    times (0: as soon as it executes; for jobs too short to be caught after a report); the
    label is the job's Dask key, the target its worker's pid (``by_address``: the worker's
    address, for workers in containers). ``client`` may be the run's own (thread-safe)."""
    from sgr_kernel.dispatch._dask_job import key_of, progress_topic

    def running(dask_worker: Any) -> tuple[int, list[str]]:
        keys = [str(ts.key) for ts in dask_worker.state.executing]
        return os.getpid(), [k for k in keys if k.startswith("sgr/")]

    def find() -> list[Victim]:
        try:
            if client.status != "running":
                return []
            by_worker = client.run(running, on_error="ignore")
            found = []
            for address, (pid, keys) in by_worker.items():
                for k in keys:
                    topic = progress_topic(key_of(k) or k)
                    if min_reports <= 0 or len(client.get_events(topic)) >= min_reports:
                        found.append((k, address if by_address else pid))
            return found
        except Exception:  # a worker dying or the run closing its client meanwhile
            return []

    return find


def executions_seen(client: Any, key: str) -> int:
    """How many times a job began, from its progress history on the scheduler: each execution
    numbers its reports from 1 (the history survives kernels; it is kept per job key)."""
    from sgr_kernel.dispatch._dask_job import progress_topic

    return sum(1 for _, msg in client.get_events(progress_topic(key)) if msg.get("seq") == 1)


def sgr_run_killed(
    plan: Path, env: dict[str, str], until: Callable[[Path], bool], what: str
) -> str:
    """Start ``sgr run PLAN`` (its store at ``env["SGR_HOME"]``), SIGKILL it once ``until``
    holds for the run's folder (``what`` names that moment), and return the run's id."""
    runs = Path(env["SGR_HOME"]) / "runs"
    log = Path(env["SGR_HOME"]).with_suffix(".run.log")
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*SGR, "run", str(plan), "--json"], env=env, stdout=out, stderr=subprocess.STDOUT
        )

    def alive(cond: Callable[[], Any]) -> Callable[[], Any]:
        def check() -> Any:
            got = cond()
            if not got and proc.poll() is not None:  # it ended: say how, not "gave up waiting"
                pytest.fail(
                    f"sgr run exited {proc.returncode} before {what}:\n{log.read_text()[-3000:]}"
                )
            return got

        return check

    try:
        run = wait_until(
            "the run", alive(lambda: runs.is_dir() and next(runs.iterdir(), None)), 120
        )
        wait_until(what, alive(lambda: until(run)), 120)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return str(run.name)


def worker_image(*, skills: Path | None = None) -> tuple[Any, str]:
    """A Docker client and the worker image (with the skills' when ``skills`` names their
    package folder), built if needed. No engine or no sandbox image: skip locally, FAIL under
    ``CI=true``."""
    from sgr_kernel.dispatch.worker_image import build_worker_image
    from sgr_kernel.errors import SandboxUnavailable
    from sgr_kernel.sandbox._client import connect, default_image, require_image

    need_dask()
    try:
        docker = connect(timeout=120)
        require_image(docker, default_image())
    except SandboxUnavailable as e:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and Docker or the sandbox image is unusable: {e}")
        pytest.skip(str(e))
    return docker, build_worker_image(docker, base=default_image(), skills=skills)


@contextlib.contextmanager
def container_cluster(image: tuple[Any, str], tmp: Path, n: int = 2) -> Iterator[Any]:
    """A :class:`ContainerCluster` of ``n`` workers from ``image`` (:func:`worker_image`),
    sharing ``tmp/data`` at /data; removed after."""
    from sgr_kernel.testing.dask_containers import ContainerCluster

    docker, tag = image
    data = tmp / "data"
    data.mkdir()
    c = ContainerCluster(docker, tag, data)
    try:
        c.start(n)
        yield c
    finally:
        c.close()
