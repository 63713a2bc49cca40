"""Real Dask processes for the dispatcher tests: a scheduler and ``sgr worker`` processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PY = sys.executable


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


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
