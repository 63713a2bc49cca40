"""Real Dask for the dispatcher tests: an embedded LocalCluster, or a scheduler and ``sgr
worker`` processes this test starts (and kills) itself.

Dask missing skips the ``dask`` tests locally and FAILS them under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PY = sys.executable

if str(Path(__file__).resolve().parent) not in sys.path:  # remote_helpers
    sys.path.insert(0, str(Path(__file__).resolve().parent))


def _need_dask() -> None:
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

    def start_workers(self, *extra: str) -> None:
        argv = [PY, "-m", "sgr_kernel.cli", "worker", self.address, *extra]
        self.workers.append((self._spawn(argv, "workers.log"), list(extra)))

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


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExternalCluster]:
    """A scheduler, two plain worker processes (two threads each) and one ``GPU=1`` worker."""
    _need_dask()
    c = ExternalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start_scheduler()
        c.start_workers("--nworkers", "2", "--nthreads", "2", "--name", "cpu")
        c.start_workers("--resources", "GPU=1", "--name", "gpu")
        c.wait_workers(3)
        yield c
    finally:
        c.close()


@pytest.fixture
def make_external(tmp_path: Path) -> Iterator[Callable[..., ExternalCluster]]:
    """A cluster of this test's own (one it may kill)."""
    _need_dask()
    made: list[ExternalCluster] = []

    def make(**kw: Any) -> ExternalCluster:
        c = ExternalCluster(tmp_path, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture(scope="module")
def embedded() -> Iterator[Any]:
    """A DaskDispatcher on its embedded LocalCluster (two single-threaded workers)."""
    _need_dask()
    import asyncio

    from sgr_kernel.dispatch.config import load_dispatch_settings
    from sgr_kernel.dispatch.dask import DaskDispatcher

    settings = load_dispatch_settings(
        env={}, resource_wait_s=1.0, cancel_grace_s=0.5, allowed_failures=1
    )
    d = DaskDispatcher(settings=settings)
    d.connect()
    yield d
    asyncio.run(d.close())
