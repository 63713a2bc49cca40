"""``RunService``: what the side panel can see and do, over the trace store, with no Jupyter.

The REST handlers in ``sgr_jupyter.server`` only translate HTTP to these calls, so
everything here is tested without a server. It imports only ``sgr_kernel``.

One writer per run (docs/trace.md, ADR 011): a run that is live in *another* process (a notebook
kernel, an ``sgr run``) holds its trace's lock, so this process never writes into it. Approve,
deny and cancel still work: the kernel *posts* them to the run's inbox, the process that drives
the run records and applies them (within ~0.25 s), and the service watches the log (read-only)
for a short bounded time to say whether that happened. Every steering call returns a
:class:`Steered` row: the run's summary plus ``delivered`` (``live`` here, ``recorded`` into a
stopped run, ``posted`` to a run live elsewhere) and ``applied`` (False only for a posted
request not yet taken when the wait ran out: HTTP 202). Only ``resume`` of a run live elsewhere
is refused (``TraceLockedError``, HTTP 409): it already runs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.engine.kernel import Delivery, Kernel, KernelConfig, default_home
from sgr_kernel.errors import ApprovalError, RunNotFoundError, TraceError, TraceLockedError
from sgr_kernel.graph.mermaid import plan_to_mermaid
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.state import PLAN_STEP, RunState
from sgr_kernel.trace.view import RequestTrace, materialise
from sgr_kernel.trace.wal import validate_run_id

__all__ = [
    "LIVE_ELSEWHERE_HINT",
    "STEER_WAIT_S",
    "RunDetail",
    "RunService",
    "RunSummary",
    "Steered",
]

LIVE_ELSEWHERE_HINT = (
    "it is already running in another process (a notebook kernel?): approve, deny or cancel "
    "it from here, or stop it there and resume it then"
)
"""What to do instead of resuming a run live in another process (sent with the 409)."""

STEER_WAIT_S = 10.0
"""How long a decision posted to a run live elsewhere is watched for before answering
``applied=False`` (the live run polls its inbox every 0.25 s, so this only runs out when
that process is stuck or stops first; the request then stays posted)."""


_SHA256 = re.compile(r"[0-9a-f]{64}")
_OCTET = "application/octet-stream"


def _artifact_refs(view: RequestTrace) -> list[dict[str, Any]]:
    """Every ``ArtifactRef``-shaped dict inside the steps' outputs."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("sha256"), str) and "media_type" in value:
                found.append(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    for step in view.steps:
        walk(step.output)
    return found


class RunSummary(BaseModel):
    """One row of the runs list."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    name: str
    status: RunStatus
    reason: str | None = None
    created_ts: float | None = None
    ended_ts: float | None = None
    steps_total: int = Field(0, description="Steps of the plan (the planner not counted).")
    steps_done: int = Field(0, description="Plan steps that reached a terminal state.")
    waiting: list[str] = Field(
        default_factory=list, description="Steps waiting for an approval not yet given."
    )
    live: str | None = Field(
        None, description="'here' (this server drives it), 'elsewhere' (another process), None."
    )
    holder: str | None = Field(None, description="The lock holder ('pid=… host=…') if live.")
    tokens: int = 0
    cost_usd: float = 0.0
    parent: dict[str, Any] | None = None


class RunDetail(BaseModel):
    """One run for the detail pane: the trace view, its DAG as Mermaid text, and liveness."""

    model_config = ConfigDict(frozen=True)

    summary: RunSummary
    view: RequestTrace
    mermaid: str | None = Field(None, description="None until the run has a plan.")


class Steered(RunSummary):
    """What a steering call did: the run's summary after it, and where the request went."""

    delivered: Delivery = Field(
        description="'live' (the engine in this process took it), 'recorded' (written into a "
        "stopped run's log; resume applies it), 'posted' (to the inbox of a run live elsewhere)."
    )
    applied: bool = Field(
        description="The run took it: False only when a posted request was not yet recorded "
        "by the process that runs it when the wait ran out (it stays posted)."
    )

    @property
    def resumable(self) -> bool:
        """Stopped, not finished, and written by no process: ``resume`` can continue it here."""
        return not self.status.terminal and self.live is None


@dataclass(frozen=True)
class _Cached:
    stamp: tuple[int, int]
    state: RunState


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


class RunService:
    """Lists, shows, steers and exports runs of one store.

    Args:
        home: The store root (``SGR_HOME`` by default).
        kernel: A kernel to use instead of building one (tests inject services this way).
        steer_wait_s: How long a decision posted to a run live elsewhere is watched for.

    Sync methods must be called on the thread of the event loop that awaits the async ones
    (the server's IOLoop), because runs resumed here live on that loop.
    """

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        kernel: Kernel | None = None,
        steer_wait_s: float = STEER_WAIT_S,
    ) -> None:
        if kernel is None:
            cfg = KernelConfig(home=Path(home) if home else default_home(), pause_when_waiting=True)
            kernel = Kernel(cfg)
        self.kernel = kernel
        self.steer_wait_s = steer_wait_s
        self._cache: dict[str, _Cached] = {}

    @property
    def root(self) -> Path:
        return self.kernel.store.root

    # ------------------------------------------------------------ reading

    def runs(self) -> list[RunSummary]:
        """Every run in the store, newest first."""
        out: list[RunSummary] = []
        for run_id in reversed(self.kernel.store.list_runs()):
            try:
                state = self._state(run_id)
                if not state.run_id:
                    continue  # its creation never became durable: the run did not happen
                out.append(self._summary(run_id, state))
            except (OSError, ValueError, TraceError) as e:  # one damaged run must not hide all
                out.append(
                    RunSummary(run_id=run_id, name=f"(unreadable: {e})", status=RunStatus.FAILED)
                )
        return out

    def detail(self, run_id: str) -> RunDetail:
        """A run's trace view and DAG. Raises ``RunNotFoundError``/``InvalidRunIdError``."""
        self._require(run_id)
        handle = self.kernel.handle(run_id)
        records = self.kernel.store.read(run_id).records
        state = handle.state if handle is not None else None
        view = materialise(records, state)
        if handle is None:
            state = RunState.from_records(records)
        assert state is not None
        mermaid = None
        if view.plan is not None:
            states = {s.id: s.status for s in view.steps if s.id != PLAN_STEP}
            mermaid = plan_to_mermaid(view.plan, states)
        return RunDetail(summary=self._summary(run_id, state), view=view, mermaid=mermaid)

    def export(self, run_id: str) -> dict[str, Any]:
        """What ``sgr export`` writes: the view, every record, and the recovery report."""
        self._require(run_id)
        log = self.kernel.store.read(run_id)
        return {
            "view": materialise(log.records).model_dump(mode="json"),
            "records": [r.model_dump(mode="json") for r in log.records],
            "recovery": log.report.model_dump(mode="json"),
        }

    def artifact(self, run_id: str, sha256: str) -> tuple[bytes, str, str]:
        """An artifact's bytes, media type and name, as the run's step outputs name them.

        Only artifacts that some step output references are served: the store is content
        addressed, and a hash the run never produced is none of the panel's business.
        Raises ``KeyError`` when the run references no such artifact.
        """
        self._require(run_id)
        if not _SHA256.fullmatch(sha256):
            raise KeyError(sha256)
        ref = next(
            (
                r
                for r in _artifact_refs(materialise(self._records(run_id)))
                if r.get("sha256") == sha256
            ),
            None,
        )
        if ref is None:
            raise KeyError(sha256)
        data = self.kernel.store.get_artifact(run_id, sha256)
        return data, str(ref.get("media_type") or _OCTET), str(ref.get("name") or sha256)

    def _records(self, run_id: str) -> tuple[Any, ...]:
        return self.kernel.store.read(run_id).records

    # ------------------------------------------------------------ steering

    async def approve(
        self, run_id: str, step_id: str, *, by: str = "panel", wait_s: float | None = None
    ) -> Steered:
        """Approve a waiting step, wherever its run lives (see the module docstring).

        Raises ``ApprovalError`` when the step is not waiting, or was decided meanwhile by
        someone else (the live run then refuses this decision; nothing is recorded twice).
        """
        return await self._decide(run_id, step_id, True, by=by, reason=None, wait_s=wait_s)

    async def deny(
        self,
        run_id: str,
        step_id: str,
        *,
        by: str = "panel",
        reason: str | None = None,
        wait_s: float | None = None,
    ) -> Steered:
        """Deny a waiting step (it fails; its dependents are skipped), as :meth:`approve`."""
        return await self._decide(run_id, step_id, False, by=by, reason=reason, wait_s=wait_s)

    async def _decide(
        self,
        run_id: str,
        step_id: str,
        approved: bool,
        *,
        by: str,
        reason: str | None,
        wait_s: float | None,
    ) -> Steered:
        self._require(run_id)
        if approved:
            delivered = self.kernel.approve(run_id, step_id, by=by)
        else:
            delivered = self.kernel.deny(run_id, step_id, by=by, reason=reason)
        applied = True
        if delivered == "posted":
            wait = self.steer_wait_s if wait_s is None else wait_s
            applied = await self._taken(run_id, step_id, (approved, by), wait)
        return self._steered(run_id, delivered, applied)

    async def _taken(
        self, run_id: str, step_id: str, decision: tuple[bool, str], wait_s: float
    ) -> bool:
        """Watch the log until the live run has recorded a decision for the step (or its
        writer is gone, or time runs out); True when the recorded decision is ours."""

        def settled(state: RunState) -> bool:
            st = state.steps.get(step_id)
            return (
                st is None
                or st.approval is not None
                or st.status is not StepStatus.WAITING_APPROVAL
                or self.holder(run_id) is None  # it stopped: a resume applies the request
            )

        await self.kernel.wait_elsewhere(run_id, settled, timeout_s=wait_s)
        st = self._state(run_id).steps.get(step_id)
        if st is None or st.approval is None:
            return False
        if (st.approval, st.approval_by) != decision:
            # Someone (the notebook's widget, another panel) decided first; the live run
            # moved our request to inbox/rejected/. Same answer as deciding twice here.
            verdict = "approved" if st.approval else "denied"
            raise ApprovalError(
                f"step {step_id!r} of run {run_id!r} was {verdict} meanwhile by "
                f"{st.approval_by}; this decision was refused"
            )
        return True

    async def cancel(self, run_id: str, reason: str = "cancelled from the side panel") -> Steered:
        """Cancel a run: live here (its engine stops it), stopped (recorded), or live in
        another process (posted; the kernel watches up to 15 s for the run to end)."""
        self._require(run_id)
        handle = self.kernel.handle(run_id)
        if handle is not None:
            # Live here: the engine stops it; don't wait for in-flight steps to notice.
            if handle.engine is not None:
                handle.engine.cancel(reason)
            elif handle.task is not None:
                handle.task.cancel()
            return self._steered(run_id, "live", True)
        # Where the kernel sends it follows the lock; the lock file's text says the same
        # without touching the lock, and a request that lands elsewhere is posted there.
        elsewhere = self.holder(run_id) is not None
        result = await self.kernel.cancel(run_id, reason)
        return self._steered(run_id, "posted" if elsewhere else "recorded", result.status.terminal)

    def _steered(self, run_id: str, delivered: Delivery, applied: bool) -> Steered:
        row = self._summary(run_id, self._state(run_id))
        return Steered(**dict(row), delivered=delivered, applied=applied)

    async def resume(self, run_id: str) -> RunSummary:
        """Continue a stopped run in this process (its steps run here, with this server's
        provider and sandbox settings). It pauses again if more approvals are needed."""
        self._writable(run_id)
        handle = await self.kernel.resume(run_id)
        return self._summary(run_id, handle.state)

    async def wait(self, run_id: str) -> RunSummary:
        """Wait for a run live in this process to stop (tests, scripts)."""
        handle = self.kernel.handle(run_id)
        if handle is not None:
            await handle.wait()
        return self._summary(run_id, self._state(run_id))

    def close(self) -> None:
        """Cancel runs live here; their traces stay resumable."""
        for run_id in list(self.kernel._live):
            handle = self.kernel.handle(run_id)
            if handle is not None and handle.task is not None:
                handle.task.cancel()

    # ------------------------------------------------------------ helpers

    def _require(self, run_id: str) -> None:
        validate_run_id(run_id)
        if not self.kernel.store.exists(run_id):
            raise RunNotFoundError(run_id, str(self.root))

    def _writable(self, run_id: str) -> None:
        """Refuse, before touching the trace, a run that another process is writing."""
        self._require(run_id)
        if self.kernel.handle(run_id) is None:
            holder = self.holder(run_id)
            if holder is not None:
                raise TraceLockedError(run_id, holder)

    def holder(self, run_id: str) -> str | None:
        """Who writes this run from another process, or None.

        The writer writes ``pid=… host=…`` into the run's ``lock`` file when it takes the
        flock and empties it when it lets go, so reading it never disturbs the writer (a
        trial flock could make a notebook's resume fail at that instant). A holder left by
        a killed process on this host is recognised by its dead pid.
        """
        try:
            text = (self.kernel.store.run_dir(run_id) / "lock").read_text("utf-8").strip()
        except OSError:
            return None
        if not text:
            return None
        fields = dict(p.split("=", 1) for p in text.split() if "=" in p)
        pid, host = fields.get("pid", ""), fields.get("host")
        if host == os.uname().nodename and pid.isdigit() and not _pid_alive(int(pid)):
            return None
        if pid == str(os.getpid()) and host == os.uname().nodename:
            # Our own lock with no live handle: a one-off write (approve, cancel) in flight.
            return None
        return text

    def _state(self, run_id: str) -> RunState:
        handle = self.kernel.handle(run_id)
        if handle is not None:
            return handle.state
        wal = self.kernel.store.run_dir(run_id) / "wal.jsonl"
        st = wal.stat()
        stamp = (st.st_size, st.st_mtime_ns)
        hit = self._cache.get(run_id)
        if hit is not None and hit.stamp == stamp:
            return hit.state
        # Folded from the log, not via snapshot+tail: snapshot loading may take the writer's
        # path, and reading must never disturb a writer in another process.
        state = RunState.from_records(self.kernel.store.read(run_id).records)
        self._cache[run_id] = _Cached(stamp, state)
        return state

    def _summary(self, run_id: str, state: RunState) -> RunSummary:
        plan_steps = [s for k, s in state.steps.items() if k != PLAN_STEP]
        live: str | None = None
        holder: str | None = None
        if self.kernel.handle(run_id) is not None:
            live = "here"
        elif not state.status.terminal:
            holder = self.holder(run_id)
            live = "elsewhere" if holder else None
        return RunSummary(
            run_id=run_id,
            name=state.name,
            status=state.status,
            reason=state.reason,
            created_ts=state.created_ts,
            ended_ts=state.ended_ts,
            steps_total=len(state.plan.steps) if state.plan else 0,
            steps_done=sum(1 for s in plan_steps if s.status.terminal),
            waiting=[
                k
                for k, s in state.steps.items()
                if s.status is StepStatus.WAITING_APPROVAL and s.approval is None
            ],
            live=live,
            holder=holder,
            tokens=state.usage.tokens,
            cost_usd=state.usage.cost_usd,
            parent=state.parent,
        )
