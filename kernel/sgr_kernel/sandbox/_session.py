"""A live sandbox container bound to one run: boot, execute with deadlines and caps, restart.

Executions are serialised; every limit the host can enforce is enforced here (deadline,
output and result caps, artifact path checks, workspace quota), and a dead or misbehaving
container is restarted with the loss of its Python state reported in the result.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sgr_kernel.errors import SandboxUnavailable
from sgr_kernel.sandbox import _artifacts, _protocol
from sgr_kernel.sandbox._client import (
    death_reason,
)
from sgr_kernel.sandbox._profile import container_kwargs
from sgr_kernel.sandbox.base import ExecResult, SandboxLimits
from sgr_kernel.trace.base import ArtifactRef

if TYPE_CHECKING:
    from sgr_kernel.sandbox.docker import DockerSandbox

__all__ = ["DockerSession"]

_LIVE: weakref.WeakSet[DockerSession] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # A kernel that exits normally removes its containers at once; one killed with SIGKILL
    # relies on the runner exiting at stdin EOF (and on reaping at the next start).
    for session in list(_LIVE):
        session._kill_sync()


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
        why = await asyncio.to_thread(
            death_reason,
            self.sandbox.client(),
            self.container,
            since=self._started_at,
            memory_mb=self.limits.memory_mb,
        )
        await self._restart()
        kind = "OutOfMemory" if "memory" in why else "SandboxCrashed"
        return ExecResult(
            ok=False,
            state_lost=True,
            error_type=kind,
            error=f"the sandbox process died ({why}); it was restarted and its Python state "
            "is lost.",
        )

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
