"""The one job that runs model-written code on a worker: ``sgr.sandbox``.

Workers run pickled functions only; code a model wrote never runs in a worker's own process.
This job hands the code to a hardened sandbox container on the worker's host (the same
``DockerSandbox`` the kernel uses) and returns its :class:`~sgr_kernel.sandbox.base.ExecResult`
as a dict. A worker host with no usable Docker engine or sandbox image refuses, clearly.
"""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

from sgr_kernel.dispatch.base import current_job, job

__all__ = ["SANDBOX_JOB", "sandbox_exec"]

SANDBOX_JOB = "sgr.sandbox"


@job(SANDBOX_JOB)
def sandbox_exec(code: str, timeout_s: float | None = None) -> dict[str, Any]:
    """Run ``code`` in a fresh sandbox session on this worker's host."""
    from sgr_kernel.errors import SandboxUnavailable
    from sgr_kernel.sandbox.docker import DockerSandbox

    ctx = current_job()
    workspace = ctx.artifact_dir  # files the code writes come back as the job's artifacts
    workspace.chmod(0o777)  # the sandbox's non-root user writes here
    run_id = re.sub(r"[^A-Za-z0-9_.-]", "-", ctx.key)[:60]

    async def go() -> dict[str, Any]:
        sandbox = DockerSandbox()
        session = await sandbox.start(run_id, workspace)
        try:
            result = await session.execute(code, timeout_s=timeout_s)
        finally:
            await session.close()
            sandbox.close()
        return result.model_dump(mode="json")

    try:
        return asyncio.run(go())
    except SandboxUnavailable as e:
        raise RuntimeError(
            f"worker host {socket.gethostname()} cannot run model-written code: {e}. Code "
            "runs only in a sandbox container, never in a worker process; send this job to a "
            "worker whose host has Docker and the sgr-sandbox image"
        ) from None
