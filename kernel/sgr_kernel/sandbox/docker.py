"""The Docker sandbox backend: one hardened, long-lived container per run session.

The container runs ``/opt/sgr/runner.py`` from the ``sgr-sandbox`` image: a persistent Python
session that speaks one JSON object per line over the container's attached stdin/stdout, so
Python state survives across the code steps of a run. The host enforces every limit it can
(deadline, output and result caps, artifact path checks, workspace quota) and fails closed:
no engine, no image or a dead socket raise ``SandboxUnavailable``; code never runs on the host.

Usage::

    sandbox = DockerSandbox(store=store)           # image: sgr-sandbox:<recipe hash>
    session = await sandbox.start(run_id, workspace)
    result = await session.execute("x = 41; x + 1")  # ExecResult(value=42, ...)
    await session.close()
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sgr_kernel.sandbox import _artifacts
from sgr_kernel.sandbox._client import (
    connect,
    default_image,
    pick_runtime,
    reap_orphans,
    require_image,
)
from sgr_kernel.sandbox._session import DockerSession
from sgr_kernel.sandbox.base import SandboxLimits
from sgr_kernel.trace.base import TraceStore

__all__ = ["DockerSandbox", "DockerSession"]


class DockerSandbox:
    """A sandbox backend running code in hardened ``sgr-sandbox`` containers.

    Args:
        store: where returned files go (``put_artifact``); without one, refs are computed
            but the bytes are not kept.
        image: image to run; default ``$SGR_SANDBOX_IMAGE`` or ``sgr-sandbox:<recipe hash>``.
        limits: default limits of sessions started without their own.
        base_url: Docker endpoint; default from the environment (``DOCKER_HOST``) or the
            local socket.
        runtime: ``None`` (the daemon's default, runc), ``"runsc"`` (gVisor; fails closed
            when the daemon lacks it) or ``"auto"`` (gVisor when offered).
        inputs: a host folder mounted read-only at ``/inputs``.
        interrupt_grace_s: how long an interrupted execution may take to stop before the
            container is killed and restarted (state lost).
        unsafe_overrides: extra ``containers.create`` arguments that WEAKEN the profile;
            only for the negative-control test of the hostile-payload suite.
    """

    name = "docker"

    def __init__(
        self,
        store: TraceStore | None = None,
        *,
        image: str | None = None,
        limits: SandboxLimits | None = None,
        base_url: str | None = None,
        runtime: str | None = None,
        inputs: Path | None = None,
        interrupt_grace_s: float = 2.0,
        start_timeout_s: float = 30.0,
        unsafe_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.image = image or default_image()
        self.limits = limits or SandboxLimits()
        self.base_url = base_url
        self.runtime = runtime
        self.inputs = inputs.resolve() if inputs is not None else None
        self.interrupt_grace_s = interrupt_grace_s
        self.start_timeout_s = start_timeout_s
        self.unsafe_overrides = dict(unsafe_overrides or {})
        self._client: Any = None
        self._resolved_runtime: str | None = None

    def client(self) -> Any:
        """The docker client, connected on first use (raises ``SandboxUnavailable``)."""
        if self._client is None:
            client = connect(self.base_url)
            require_image(client, self.image)
            self._resolved_runtime = pick_runtime(client, self.runtime)
            reap_orphans(client)
            self._client = client
        return self._client

    def close(self) -> None:
        """Close the engine connection (sessions should be closed first)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def start(
        self, run_id: str, workspace: Path, *, limits: SandboxLimits | None = None
    ) -> DockerSession:
        """Start a session for ``run_id`` with ``workspace`` as its only writable mount."""
        await asyncio.to_thread(self.client)
        session = DockerSession(
            self, run_id, _artifacts.prepare_workspace(workspace), limits or self.limits
        )
        await session._boot()
        return session
