"""Job bodies and a skill for testing remote work on real backends.

The job functions live in an importable module (Dask workers unpickle them by reference). Each
appends one line per execution to a file the test names, so a job that ran twice is visible:
at least once on workers, exactly once in the trace.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sgr_kernel.dispatch.base import JobCancelled, current_job, job
from sgr_kernel.skills.base import CAP_REMOTE, Skill, SkillContext

__all__ = ["RemoteJobSkill", "executions", "skills_with_remote_job"]


def _record(path: str | None, what: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as f:  # O_APPEND: one whole line per write
            f.write(f"{current_job().key} {os.getpid()} {what}\n")


def executions(path: str | os.PathLike[str]) -> list[tuple[str, int, str]]:
    """The lines the jobs appended: (key, worker pid, what)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        key, pid, what = line.split(" ", 2)
        out.append((key, int(pid), what))
    return out


@job("sgr_test_work")
def work(
    x: int = 0,
    seconds: float = 0.0,
    steps: int = 1,
    log: str | None = None,
    artifact: str | None = None,
) -> dict[str, Any]:
    """Square ``x`` in ``steps`` slices of ``seconds`` in all, reporting progress; stops
    cooperatively when cancelled."""
    ctx = current_job()
    _record(log, "start")
    for i in range(steps):
        if ctx.cancelled():
            _record(log, "cancelled")
            raise JobCancelled(ctx.key)
        time.sleep(seconds / steps)
        ctx.progress((i + 1) / steps, f"slice {i + 1}/{steps}", done=float(i + 1))
    if artifact:
        (ctx.artifact_dir / "result.txt").write_text(artifact)
    _record(log, "end")
    return {"y": x * x, "pid": os.getpid()}


@job("sgr_test_hang")
def hang(log: str | None = None, seconds: float = 3600.0) -> dict[str, Any]:
    """Ignores cancellation: only a worker restart stops it."""
    _record(log, "start")
    time.sleep(seconds)
    _record(log, "end")
    return {}


@job("sgr_test_poison")
def poison(log: str | None = None) -> dict[str, Any]:
    """Kills the worker process that runs it."""
    _record(log, "start")
    os.kill(os.getpid(), signal.SIGKILL)
    return {}


@job("sgr_test_noop")
def noop() -> dict[str, Any]:
    return {}


class RemoteJobIn(BaseModel):
    job_type: str = Field(description="A registered job type.")
    params: dict[str, Any] = Field(default_factory=dict)
    resources: dict[str, float] = Field(default_factory=dict)
    timeout_s: float | None = None


class RemoteJobOut(BaseModel):
    result: dict[str, Any]


class RemoteJobSkill(Skill):
    """Runs one registered job through the run's dispatcher (tests and examples)."""

    name = "remote_job"
    description = "Run a registered job type on the dispatcher and return its result."
    Input = RemoteJobIn
    Output = RemoteJobOut
    capabilities = frozenset({CAP_REMOTE})
    idempotent = True

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        out = await ctx.remote(
            inputs.job_type,
            inputs.params,
            resources=dict(inputs.resources),
            timeout_s=inputs.timeout_s,
        )
        return RemoteJobOut(result=out)


def skills_with_remote_job() -> dict[str, type[Skill]]:
    """The default skills plus :class:`RemoteJobSkill`."""
    from sgr_kernel.skills.registry import SkillRegistry

    return {**SkillRegistry.default(), RemoteJobSkill.name: RemoteJobSkill}


@job("sgr_test_flaky")
def flaky(log: str, fail_times: int = 1) -> dict[str, Any]:
    """Raises on its first ``fail_times`` executions (counted in ``log``), then succeeds."""
    key = current_job().key
    before = sum(1 for k, _, what in executions(log) if k == key and what == "start")
    _record(log, "start")
    if before < fail_times:
        raise RuntimeError(f"flaky failure {before + 1} of {fail_times}")
    return {"runs": before + 1}


@job("sgr_test_cpu")
def cpu(n: int = 2_000_000) -> dict[str, Any]:
    """Pure-Python CPU work (holds the GIL): one core per job."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return {"total": total}
