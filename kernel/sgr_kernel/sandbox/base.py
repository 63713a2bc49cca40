"""The sandbox contract: start a session, run code in it, collect what came out (docs/sandbox.md).

A session keeps Python state across executions, like a notebook kernel. Backends fail
closed: when they cannot run code they raise ``SandboxUnavailable``; they never fall back
to the host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.trace.base import ArtifactRef

__all__ = ["ExecResult", "Sandbox", "SandboxLimits", "SandboxSession"]


class SandboxLimits(BaseModel):
    """Resource limits of one session. Defaults are the hardened profile."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    memory_mb: int = Field(512, ge=32)
    cpus: float = Field(1.0, gt=0)
    pids: int = Field(128, ge=8)
    tmpfs_mb: int = Field(64, ge=1)
    output_bytes: int = Field(1 << 20, ge=1024, description="Cap per stream (stdout, stderr).")
    result_bytes: int = Field(1 << 20, ge=1024, description="Cap on the JSON result.")
    result_depth: int = Field(32, ge=2, description="Cap on the JSON result's nesting.")
    artifact_bytes: int = Field(32 << 20, ge=1024, description="Cap per returned file.")
    network: bool = Field(False, description="Network access; off unless asked for.")
    timeout_s: float = Field(60.0, gt=0, description="Default deadline per execution.")
    workspace_mb: int = Field(256, ge=1, description="Cap on the run workspace's disk use.")
    workspace_files: int = Field(10_000, ge=16, description="Cap on files in the workspace.")


class ExecResult(BaseModel):
    """What one execution produced. Everything here is recorded in the trace."""

    model_config = ConfigDict(frozen=True)

    ok: bool = Field(description="The code ran to the end without raising.")
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    value: Any = Field(None, description="JSON value of the last expression (or its repr).")
    value_repr: str | None = Field(None, description="repr() of the last expression.")
    error_type: str | None = None
    error: str | None = Field(None, description="Traceback text when the code raised.")
    artifacts: tuple[ArtifactRef, ...] = ()
    timed_out: bool = False
    state_lost: bool = Field(False, description="The session restarted; Python state is gone.")
    duration_s: float = 0.0


@runtime_checkable
class SandboxSession(Protocol):
    """A live session bound to one run."""

    async def execute(self, code: str, *, timeout_s: float | None = None) -> ExecResult: ...

    async def close(self) -> None: ...


@runtime_checkable
class Sandbox(Protocol):
    """A sandbox backend."""

    name: str

    async def start(
        self, run_id: str, workspace: Path, *, limits: SandboxLimits | None = None
    ) -> SandboxSession: ...
