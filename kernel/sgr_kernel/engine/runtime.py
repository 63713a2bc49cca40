"""What one run shares across its steps: journal, services, policies, mode and sandbox session."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgr_kernel.dispatch.base import Dispatcher
from sgr_kernel.engine import _session_state
from sgr_kernel.engine.base import Clock, Entropy, Mode, RunConfig
from sgr_kernel.engine.journal import RunJournal
from sgr_kernel.engine.reliability import BudgetGuard, ReliabilityEngine
from sgr_kernel.errors import SandboxUnavailable
from sgr_kernel.llm.base import LLMClient
from sgr_kernel.sandbox.base import Sandbox, SandboxSession
from sgr_kernel.skills.base import HttpResponse
from sgr_kernel.trace._crash import crashpoint
from sgr_kernel.trace.base import Record, RecordType, TraceStore
from sgr_kernel.trace.recorded import RecordedRun

__all__ = ["HttpTransport", "RunRuntime", "Services", "fingerprint"]

log = logging.getLogger(__name__)

HttpTransport = Callable[[str, str, dict[str, str], str | None, float], Awaitable[HttpResponse]]
"""``(method, url, headers, body, timeout_s) -> HttpResponse``."""


def fingerprint(payload: Any) -> str:
    """A stable hash of a JSON value (sorted keys, compact)."""
    canon = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:32]


@dataclass
class Services:
    """The outside world a run may reach, all through its RunContext."""

    clock: Clock
    entropy: Entropy
    store: TraceStore | None = None
    llm: LLMClient | None = None
    sandbox: Sandbox | None = None
    dispatcher: Dispatcher | None = None
    http: HttpTransport | None = None


class RunRuntime:
    """Per-run shared state. Lives on the run's event-loop thread."""

    def __init__(
        self,
        journal: RunJournal,
        config: RunConfig,
        services: Services,
        *,
        mode: Mode = Mode.LIVE,
        recorded: RecordedRun | None = None,
        prior_elapsed_s: float = 0.0,
        restore_session: bool = False,
        workspace_from: str | None = None,
    ) -> None:
        self.journal = journal
        self.config = config
        self.services = services
        self.mode = mode
        self.recorded = recorded
        self.reliability = ReliabilityEngine(services.clock, services.entropy)
        self.budget = BudgetGuard(config.budget, journal.state.usage)
        self._started = services.clock.monotonic() - prior_elapsed_s
        self._session: SandboxSession | None = None
        self._session_lock = asyncio.Lock()
        self._restore = restore_session
        """Resumed or forked: a new session first runs again the cells the log says ran."""
        self._workspace_from = workspace_from
        """A fork: its workspace starts as a copy of this run's."""
        self.live_calls = 0

    @property
    def run_id(self) -> str:
        return self.journal.run_id

    @property
    def replaying(self) -> bool:
        return self.mode is Mode.REPLAY

    def elapsed_s(self) -> float:
        return self.services.clock.monotonic() - self._started

    def emit(self, step: str | None, kind: str, data: dict[str, Any]) -> None:
        """A live event for listeners only; it is not written to the log."""
        if self.replaying:
            return
        rec = Record(
            seq=max(self.journal.state.last_seq, 0),
            ts=self.services.clock.now(),
            type=RecordType.EVENT,
            step=step,
            data={"kind": kind, **data},
        )
        self.journal.publish(rec)

    def workspace(self) -> Path:
        store = self.services.store
        if store is None:
            raise SandboxUnavailable("no trace store: the run has no workspace for the sandbox")
        path = store.run_dir(self.run_id) / "workspace"
        if not path.exists() and self._workspace_from and store.exists(self._workspace_from):
            parent = store.run_dir(self._workspace_from) / "workspace"
            if parent.is_dir():
                _session_state.copy_workspace(parent, path)
        path.mkdir(parents=True, exist_ok=True)
        _session_state.recover_workspace(path)
        return path

    async def sandbox_session(self) -> SandboxSession:
        """The run's one sandbox session, started on first use; every step's code runs in it,
        one cell at a time. After a restart it is rebuilt from the log first."""
        async with self._session_lock:  # steps starting together share one session
            if self._session is None:
                backend = self.services.sandbox
                if backend is None:
                    raise SandboxUnavailable(
                        "no sandbox backend is configured, so code is not run anywhere. Start "
                        "Docker and run `sgr sandbox build`, then retry (see `sgr doctor`)."
                    )
                workspace = self.workspace()
                crashpoint("sandbox_start")
                session = await backend.start(self.run_id, workspace)
                if self._restore and self.services.store is not None:
                    try:
                        cells = await asyncio.to_thread(
                            _session_state.logged_cells, self.services.store, self.run_id
                        )
                        report = await _session_state.restore_session(session, workspace, cells)
                    except BaseException:
                        await session.close()
                        raise
                    if report.cells:
                        self.emit(None, "sandbox_restored", vars(report))
                        log.info("run %s: sandbox rebuilt, %d cell(s)", self.run_id, report.cells)
                self._session = session
            return self._session

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
