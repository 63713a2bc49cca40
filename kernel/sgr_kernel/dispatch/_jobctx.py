"""The worker side shared by every backend: a job body's context and the wrapper that runs it.

The context is deliberately cheap: ``progress`` hands a value to the backend's sink, and
``cancelled`` asks the backend at most every ``poll_s`` (a remote round trip on Dask), so a
body may call both in a tight loop.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sgr_kernel._procs import owner_gone, process_start
from sgr_kernel.dispatch.base import (
    ARTIFACTS,
    JobCancelled,
    JobFunction,
    Progress,
    set_current_job,
)

__all__ = ["CANCELLED", "RunningJob", "reap_job_dirs", "run_body"]

CANCELLED = "__sgr_job_cancelled__"
"""The result of a body that stopped on :class:`JobCancelled` (a normal return, so workers
do not log a cancel as a crash); backends turn it into a ``RemoteJobError``."""

MAX_ARTIFACT_BYTES = 256 * 1024 * 1024
"""Files left in the artifact directory beyond this total fail the job (results travel whole)."""


_DIR_PREFIX = "sgr-job-"


def _dir_prefix() -> str:
    """``sgr-job-HOST-PID-START-``: whose directory it is, even after its pid is reused."""
    pid = os.getpid()
    return f"{_DIR_PREFIX}{socket.gethostname()}-{pid}-{process_start(pid) or 0}-"


def reap_job_dirs(root: Path | None = None) -> list[Path]:
    """Remove the artifact directories of jobs whose worker process on this host died: a
    SIGKILLed worker cannot clean up, and a half-written video is no one's to keep."""
    host = socket.gethostname()
    removed = []
    for d in Path(root or tempfile.gettempdir()).glob(_DIR_PREFIX + "*"):
        head, pid, start, _ = [*d.name.rsplit("-", 3), "", "", ""][:4]
        if head != _DIR_PREFIX + host or not pid.isdigit() or not start.isdigit():
            continue  # another host's (a shared /tmp), or not ours at all
        if owner_gone(int(pid), start):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


class RunningJob:
    """A :class:`~sgr_kernel.dispatch.base.JobContext` fed by two backend callables."""

    def __init__(
        self,
        key: str,
        emit: Callable[[Progress], None],
        is_cancelled: Callable[[], bool],
        *,
        poll_s: float = 0.2,
    ) -> None:
        self.key = key
        self._emit = emit
        self._is_cancelled = is_cancelled
        self._poll_s = poll_s
        self._seq = 0
        self._run = time.time_ns() ^ os.getpid()  # an id of this execution, nothing more
        self._cancelled = False
        self._polled = 0.0
        self._dir: Path | None = None

    @property
    def reports(self) -> int:
        """How many progress reports the body made."""
        return self._seq

    def progress(self, fraction: float | None = None, message: str = "", **metrics: float) -> None:
        """Report how far the job is (``fraction`` in 0..1), a status line and metrics."""
        self._seq += 1
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        clean = {k: float(v) for k, v in metrics.items()}
        self._emit(
            Progress(
                key=self.key,
                seq=self._seq,
                run=self._run,
                fraction=fraction,
                message=message,
                metrics=clean,
            )
        )

    def cancelled(self) -> bool:
        """True once the run asked the job to stop; the body should then return or raise
        :class:`~sgr_kernel.dispatch.base.JobCancelled`."""
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._polled >= self._poll_s:
            self._polled = now
            self._cancelled = bool(self._is_cancelled())
        return self._cancelled

    @property
    def artifact_dir(self) -> Path:
        """A private directory; every file left in it comes back with the result. Making it
        first removes those of dead workers on this host (:func:`reap_job_dirs`)."""
        if self._dir is None:
            reap_job_dirs()
            self._dir = Path(tempfile.mkdtemp(prefix=_dir_prefix()))
        return self._dir

    def collect(self) -> dict[str, bytes]:
        """The artifact files by relative name, then the directory is removed."""
        if self._dir is None:
            return {}
        out: dict[str, bytes] = {}
        total = 0
        try:
            for p in sorted(self._dir.rglob("*")):
                if p.is_file() and not p.is_symlink():
                    total += p.stat().st_size
                    if total > MAX_ARTIFACT_BYTES:
                        raise ValueError(
                            f"artifacts of job {self.key} exceed {MAX_ARTIFACT_BYTES} bytes; "
                            "write large outputs to shared storage and return their path"
                        )
                    out[p.relative_to(self._dir).as_posix()] = p.read_bytes()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        return out


def run_body(fn: JobFunction, params: dict[str, Any], ctx: RunningJob) -> dict[str, Any]:
    """Run a job body with ``ctx`` as its :func:`current_job`; attach its artifacts."""
    set_current_job(ctx)
    try:
        out = fn(**params)
    except JobCancelled:
        return {CANCELLED: ctx.key}
    finally:
        set_current_job(None)
        arts = ctx.collect()
    if not isinstance(out, dict):
        raise TypeError(f"job {ctx.key} returned {type(out).__name__}, not a dict")
    if arts:
        out = {**out, ARTIFACTS: arts}
    return out
