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
import atexit
import contextlib
import hashlib
import json
import os
import socket
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sgr_kernel.errors import SandboxUnavailable
from sgr_kernel.sandbox import _artifacts, _protocol
from sgr_kernel.sandbox._client import connect, default_image, reap_orphans, require_image
from sgr_kernel.sandbox._profile import SANDBOX_UID, container_kwargs
from sgr_kernel.sandbox.base import ExecResult, SandboxLimits
from sgr_kernel.trace.base import ArtifactRef, TraceStore

__all__ = ["DockerSandbox", "DockerSession"]

_LIVE: weakref.WeakSet[DockerSession] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # A kernel that exits normally removes its containers at once; one killed with SIGKILL
    # relies on the runner exiting at stdin EOF (and on reaping at the next start).
    for session in list(_LIVE):
        session._kill_sync()


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
            self._resolved_runtime = _pick_runtime(client, self.runtime)
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
        session = DockerSession(self, run_id, _prepare_workspace(workspace), limits or self.limits)
        await session._boot()
        return session


def _pick_runtime(client: Any, wanted: str | None) -> str | None:
    if wanted is None:
        return None
    offered = set((client.info().get("Runtimes") or {}).keys())
    if wanted == "auto":
        return "runsc" if "runsc" in offered else None
    if wanted not in offered:
        raise SandboxUnavailable(
            f"the Docker engine offers no {wanted!r} runtime (it has {sorted(offered)}); "
            "configure it in daemon.json or start the sandbox without runtime="
        )
    return wanted


def _prepare_workspace(workspace: Path) -> Path:
    ws = Path(workspace).resolve()
    if len(ws.parts) < 3:
        raise SandboxUnavailable(f"refusing to mount {ws} as a sandbox workspace (too broad)")
    (ws / "out").mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # The container runs as nobody: hand it the workspace (only this folder).
        for p in (ws, ws / "out"):
            os.chown(p, SANDBOX_UID, SANDBOX_UID)
    return ws


class DockerSession:
    """A live container bound to one run; executions are serialised."""

    def __init__(
        self, sandbox: DockerSandbox, run_id: str, workspace: Path, limits: SandboxLimits
    ) -> None:
        self.sandbox, self.run_id, self.workspace, self.limits = sandbox, run_id, workspace, limits
        self.container: Any = None
        self.restarts = 0
        self._attach: Any = None
        self._lines: _protocol.LineReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._seq = 0
        self._lock = asyncio.Lock()
        self._snapshot: _artifacts.Snapshot = {}
        self._dead = False
        self._closed = False
        self._started_at = 0.0
        _LIVE.add(self)

    # ------------------------------------------------------------ lifecycle

    def _create(self) -> None:
        sb = self.sandbox
        kw = container_kwargs(
            image=sb.image,
            run_id=self.run_id,
            workspace=self.workspace,
            limits=self.limits,
            inputs=sb.inputs,
            runtime=sb._resolved_runtime,
            overrides=sb.unsafe_overrides,
        )
        self._started_at = time.time()
        try:
            self.container = container = sb.client().containers.create(**kw)
            # Attach before start so the runner's ready line cannot be missed.
            self._attach = container.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
            container.start()
        except Exception as e:
            self._kill_sync()
            raise SandboxUnavailable(f"could not start a sandbox container: {e}") from e

    async def _boot(self) -> None:
        creating = asyncio.ensure_future(asyncio.to_thread(self._create))
        try:
            await asyncio.shield(creating)
        except asyncio.CancelledError:
            # The engine call runs on in its thread: let it finish, then remove what it made,
            # so a cancelled start leaves no container behind.
            with contextlib.suppress(Exception):
                await creating
            attach, self._attach = self._attach, None
            if attach is not None:  # as _boot takes it over: detach the fd, then close it
                with contextlib.suppress(Exception):
                    os.close(getattr(attach, "_sock", attach).detach())
            await asyncio.to_thread(self._kill_sync)
            raise
        # asyncio takes over the attach socket's fd; detaching it from the SDK's socket object
        # leaves that object closed, so its lingering wrappers never own (or leak) the fd.
        orig = getattr(self._attach, "_sock", self._attach)
        raw = socket.socket(orig.family, orig.type, fileno=orig.detach())
        self._attach = None
        reader, self._writer = await asyncio.open_connection(sock=raw)
        self._lines = _protocol.LineReader(reader, _protocol.max_line_bytes(self.limits))
        try:
            line = await asyncio.wait_for(self._lines.lines.get(), self.sandbox.start_timeout_s)
        except TimeoutError:
            line = b"<no answer>"
        if not isinstance(line, bytes) or not line.startswith(b'{"ready": true'):
            await self._teardown()
            raise SandboxUnavailable(
                f"the sandbox runner did not start (got {str(line)[:200]}); is {self.sandbox.image}"
                " an sgr-sandbox image? Rebuild it with `sgr sandbox build --force`."
            )
        self._dead = False
        self._snapshot = _artifacts.collect(self.workspace / "out", {}, 0)[1]

    def _kill_sync(self) -> None:
        c, self.container = self.container, None
        if c is not None:
            # Already gone (auto_remove) or the engine died: nothing to leak either way.
            with contextlib.suppress(Exception):
                c.remove(force=True)
            # An auto-remove may still be in progress: return once the container is gone.
            with contextlib.suppress(Exception):
                c.wait(condition="removed", timeout=10)

    async def _teardown(self) -> None:
        if self._lines is not None:
            self._lines.close()
        if self._writer is not None:
            self._writer.close()
        self._lines = self._writer = self._attach = None
        await asyncio.to_thread(self._kill_sync)

    async def _restart(self) -> None:
        await self._teardown()
        self.restarts += 1
        await self._boot()

    async def close(self) -> None:
        """Stop and remove the container. Idempotent."""
        if not self._closed:
            self._closed = True
            await self._teardown()
            _LIVE.discard(self)

    # ------------------------------------------------------------ execution

    async def execute(self, code: str, *, timeout_s: float | None = None) -> ExecResult:
        """Run ``code`` in the session; the value of a final expression comes back as JSON."""
        if self._closed:
            raise SandboxUnavailable("the sandbox session is closed")
        async with self._lock:
            t0 = time.perf_counter()
            result = await self._execute(code, timeout_s or self.limits.timeout_s)
            return result.model_copy(update={"duration_s": time.perf_counter() - t0})

    async def _execute(self, code: str, deadline: float) -> ExecResult:
        lost = False
        if self._dead:
            await self._restart()
            lost = True
        self._seq += 1
        req_id = self._seq
        assert self._writer is not None
        try:
            self._writer.write(json.dumps({"id": req_id, "code": code}).encode() + b"\n")
            await self._writer.drain()
        except (ConnectionError, OSError):
            return await self._crashed(lost)
        kind, reply = await self._await(req_id, deadline, watch=True)
        if kind == "timeout":
            return await self._interrupt(req_id, deadline, lost)
        if kind != "reply":
            return await self._failed(kind, reply, lost)
        assert isinstance(reply, _protocol.Reply)
        return self._finish(reply, lost=lost)

    async def _await(self, req_id: int, timeout: float, *, watch: bool) -> tuple[str, Any]:
        """Wait for the reply to ``req_id``: ("reply"|"eof"|"protocol"|"quota"|"timeout", x)."""
        waiter = asyncio.ensure_future(self._next_reply(req_id))
        tasks: set[asyncio.Future[Any]] = {waiter}
        if watch:
            tasks.add(asyncio.ensure_future(self._watch_quota()))
        try:
            done, _ = await asyncio.wait(tasks, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            for t in tasks:
                t.cancel()
        if waiter in done:
            result: tuple[str, Any] = waiter.result()
            return result
        if done:
            return "quota", None
        return "timeout", None

    async def _next_reply(self, req_id: int) -> tuple[str, Any]:
        assert self._lines is not None
        while True:
            line = await self._lines.lines.get()
            if isinstance(line, _protocol.ProtocolViolation):
                return "protocol", str(line)
            if line == _protocol.EOF:
                return "eof", None
            try:
                reply = _protocol.parse_reply(line, req_id, self.limits)
            except _protocol.ProtocolViolation as e:
                return "protocol", str(e)
            if reply is not None:
                return "reply", reply

    async def _watch_quota(self) -> None:
        """Return when the workspace grows past its quota during a long execution."""
        while True:
            await asyncio.sleep(0.5)
            if await asyncio.to_thread(self._over_quota):
                return

    def _over_quota(self) -> str | None:
        use = _artifacts.usage(self.workspace, self.limits.workspace_files)
        if use.entries > self.limits.workspace_files:
            return f"more than {self.limits.workspace_files} files"
        if use.bytes > self.limits.workspace_mb << 20:
            return f"more than {self.limits.workspace_mb} MB"
        return None

    async def _interrupt(self, req_id: int, deadline: float, lost: bool) -> ExecResult:
        """Deadline passed: SIGINT first (state kept), then kill and restart (state lost)."""
        msg = f"the execution passed its {deadline:g} s deadline"
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.container.kill, signal="SIGINT")
        kind, reply = await self._await(req_id, self.sandbox.interrupt_grace_s, watch=False)
        if kind == "reply":
            assert isinstance(reply, _protocol.Reply)
            res = self._finish(reply, lost=lost)
            return res.model_copy(
                update={
                    "ok": False,
                    "timed_out": True,
                    "error_type": "SandboxTimeout",
                    "error": f"{msg} and was interrupted; session state kept.\n{reply.error or ''}",
                }
            )
        await self._restart()
        return ExecResult(
            ok=False,
            timed_out=True,
            state_lost=True,
            error_type="SandboxTimeout",
            error=f"{msg} and did not stop when interrupted; the sandbox was restarted "
            "and its Python state is lost.",
        )

    async def _failed(self, kind: str, detail: Any, lost: bool) -> ExecResult:
        if kind == "eof":
            return await self._crashed(lost)
        if kind == "quota":
            why = await asyncio.to_thread(self._over_quota) or "over quota"
            await self._restart()
            await asyncio.to_thread(_artifacts.clear_workspace, self.workspace)
            self._snapshot = {}
            return ExecResult(
                ok=False,
                state_lost=True,
                error_type="WorkspaceQuotaExceeded",
                error=f"the code filled the workspace ({why}); it was stopped, the sandbox "
                "restarted and the workspace cleared.",
            )
        await self._restart()
        return ExecResult(
            ok=False,
            state_lost=True,
            error_type="ProtocolError",
            error=f"the sandbox broke the result protocol ({detail}); it was restarted.",
        )

    async def _crashed(self, lost: bool) -> ExecResult:
        why = await asyncio.to_thread(self._death_reason)
        await self._restart()
        kind = "OutOfMemory" if "memory" in why else "SandboxCrashed"
        return ExecResult(
            ok=False,
            state_lost=True,
            error_type=kind,
            error=f"the sandbox process died ({why}); it was restarted and its Python state "
            "is lost.",
        )

    def _death_reason(self) -> str:
        """Why the container ended, from the engine's event history (it is auto-removed)."""
        if self.container is None:
            return "container gone"
        try:
            events = self.sandbox.client().events(
                since=int(self._started_at) - 1,
                until=int(time.time()) + 1,
                filters={"container": self.container.id},
                decode=True,
            )
            actions = [(e.get("Action"), e.get("Actor", {}).get("Attributes", {})) for e in events]
        except Exception:
            return "unknown reason"
        if any(a == "oom" for a, _ in actions):
            return f"killed at its memory limit of {self.limits.memory_mb} MB"
        codes = [attrs.get("exitCode") for a, attrs in actions if a == "die"]
        return f"exit code {codes[-1]}" if codes else "unknown reason"

    def _finish(self, reply: _protocol.Reply, *, lost: bool) -> ExecResult:
        stderr = reply.stderr
        artifacts: list[ArtifactRef] = []
        col, self._snapshot = _artifacts.collect(
            self.workspace / "out", self._snapshot, self.limits.artifact_bytes
        )
        for name, data, media in col.files:
            artifacts.append(self._store_artifact(data, name, media))
        if col.refused:
            notes = "\n".join(f"[sgr-sandbox] output refused: {r}" for r in col.refused)
            stderr = f"{stderr}\n{notes}" if stderr else notes
        ok, error_type, error = reply.ok, reply.error_type, reply.error
        over = self._over_quota()
        if over:
            _artifacts.clear_workspace(self.workspace)
            self._snapshot = {}
            ok, error_type = False, "WorkspaceQuotaExceeded"
            error = f"the code filled the workspace ({over}); the workspace was cleared."
        return ExecResult(
            ok=ok,
            stdout=reply.stdout,
            stderr=stderr,
            stdout_truncated=reply.stdout_truncated,
            stderr_truncated=reply.stderr_truncated,
            value=reply.value,
            value_repr=reply.value_repr,
            error_type=error_type,
            error=error,
            artifacts=tuple(artifacts),
            state_lost=lost,
        )

    def _store_artifact(self, data: bytes, name: str, media: str) -> ArtifactRef:
        store = self.sandbox.store
        if store is not None:
            return store.put_artifact(self.run_id, data, name=name, media_type=media)
        digest = hashlib.sha256(data).hexdigest()
        return ArtifactRef(sha256=digest, size=len(data), name=name, media_type=media)
