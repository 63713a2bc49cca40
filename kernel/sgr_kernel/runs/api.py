"""``Runs``: list, show, export, steer and replay the runs of one store, for every face.

The CLI, the notebook magics and the Jupyter server all call this and only render what it
returns (values from ``sgr_kernel.runs.base``).

One writer per run (docs/trace.md, ADR 011): a run live in *another* process (a notebook
kernel, an ``sgr run``) holds its trace's lock, so this process never writes into it. Approve,
deny and cancel still work: the kernel *posts* them to the run's inbox, the process that drives
the run records and applies them (within ~0.25 s), and :class:`Runs` watches the log
(read-only) for a bounded time to say whether that happened. Every steering call returns a
:class:`Steered` row: the run's summary plus ``delivered`` (``live`` here, ``recorded`` into a
stopped run, ``posted`` to a run live elsewhere) and ``applied`` (False only for a posted
request not yet taken when the wait ran out). Only ``resume`` of a run live elsewhere is
refused (``TraceLockedError``): it already runs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgr_kernel.engine.kernel import Kernel, KernelConfig, RunHandle
from sgr_kernel.errors import ApprovalError, RunNotFoundError, TraceError, TraceLockedError
from sgr_kernel.graph.mermaid import plan_to_mermaid
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.replay.engine import ReplayEngine, ReplayReport
from sgr_kernel.runs._fold import artifacts_of, report_of, summary_of
from sgr_kernel.runs.base import (
    Artifact,
    Delivery,
    Live,
    RunDetail,
    RunReport,
    RunSummary,
    Steered,
    default_root,
    is_internal_step,
    validate_run_id,
)
from sgr_kernel.runs.live import publish_live, read_live
from sgr_kernel.trace.state import RunState
from sgr_kernel.trace.view import RequestTrace, materialise

__all__ = ["STEER_WAIT_S", "Runs"]

STEER_WAIT_S = 10.0
"""How long a decision posted to a run live elsewhere is watched for before answering
``applied=False`` (the live run polls its inbox every 0.25 s, so this only runs out when
that process is stuck or stops first; the request then stays posted)."""


@dataclass(frozen=True)
class _Cached:
    stamp: Hashable
    state: RunState


class Runs:
    """The runs of one store, through one kernel.

    Args:
        kernel: The kernel whose store and live runs are shown and steered.
        steer_wait_s: How long a decision posted to a run live elsewhere is watched for.

    Sync methods must be called on the thread of the event loop that awaits the async ones
    (runs resumed here live on that loop).
    """

    def __init__(self, kernel: Kernel, *, steer_wait_s: float = STEER_WAIT_S) -> None:
        self.kernel = kernel
        self.steer_wait_s = steer_wait_s
        self._cache: dict[str, _Cached] = {}
        self._resumed: set[str] = set()

    @classmethod
    def at(cls, home: Path | str | None = None, *, steer_wait_s: float = STEER_WAIT_S) -> Runs:
        """Runs of the store at ``home`` (empty or None: ``$SGR_HOME``, else ``~/.sgr``),
        through a kernel that pauses runs it resumes when only approvals are left."""
        cfg = KernelConfig(home=default_root(home), pause_when_waiting=True)
        return cls(Kernel(cfg), steer_wait_s=steer_wait_s)

    @property
    def root(self) -> Path:
        """The store root."""
        return self.kernel.store.root

    # ------------------------------------------------------------ reading

    def summaries(self, *, newest_first: bool = False) -> list[RunSummary]:
        """Every run in the store. A run whose creation never became durable did not happen
        and is not listed; a damaged one is listed as FAILED with why, never hides the rest."""
        ids = self.kernel.store.list_runs()
        out: list[RunSummary] = []
        for run_id in reversed(ids) if newest_first else ids:
            try:
                state = self.state(run_id)
                if not state.run_id:
                    continue
                out.append(self._summary(run_id, state))
            except (OSError, ValueError, TraceError) as e:
                out.append(
                    RunSummary(run_id=run_id, name=f"(unreadable: {e})", status=RunStatus.FAILED)
                )
        return out

    def summary(self, run_id: str) -> RunSummary:
        """One run's summary row. Raises ``RunNotFoundError``/``InvalidRunIdError``."""
        self._require(run_id)
        return self._summary(run_id, self.state(run_id))

    def view(self, run_id: str) -> RequestTrace:
        """The run's ``RequestTrace`` view, materialised from its log."""
        self._require(run_id)
        handle = self.kernel.handle(run_id)
        records = self.kernel.store.read(run_id).records
        return materialise(records, handle.state if handle is not None else None)

    def detail(self, run_id: str) -> RunDetail:
        """A run's summary, trace view and DAG (Mermaid text coloured by step state)."""
        view = self.view(run_id)
        mermaid = None
        if view.plan is not None:
            states = {s.id: s.status for s in view.steps if not is_internal_step(s.id)}
            mermaid = plan_to_mermaid(view.plan, states)
        summary = self.summary(run_id)
        live = summary.live is not None
        return RunDetail(
            summary=summary,
            view=view,
            mermaid=mermaid,
            artifacts=artifacts_of(view),
            streams=read_live(self.kernel.store.run_dir(run_id)) if live else {},
        )

    def publish_live(self, handle: RunHandle) -> Callable[[], None]:
        """Keep what ``handle``'s model streams where other processes' :meth:`detail` reads
        it (the side panel); returns the unsubscribe. Faces call it for every run they start."""
        return publish_live(handle, self.kernel.store.run_dir(handle.run_id))

    def report(self, run_id: str) -> RunReport:
        """How the run stands: its steps' lines, the plan's outputs, the usage."""
        return report_of(self.view(run_id), self.summary(run_id))

    def export(self, run_id: str) -> dict[str, Any]:
        """What ``sgr export`` writes: the view, every record, and the recovery report."""
        self._require(run_id)
        log = self.kernel.store.read(run_id)
        return {
            "view": materialise(log.records).model_dump(mode="json"),
            "records": [r.model_dump(mode="json") for r in log.records],
            "recovery": log.report.model_dump(mode="json"),
        }

    def artifacts(self, run_id: str, step: str | None = None) -> list[Artifact]:
        """The artifacts the run's step outputs name (only ``step``'s when given)."""
        return artifacts_of(self.view(run_id), step)

    def artifact(self, run_id: str, sha256: str) -> tuple[Artifact, bytes]:
        """One artifact and its bytes. Only artifacts that some step output names are served:
        the store is content addressed, and a hash the run never produced is no one's
        business. Raises ``KeyError`` when the run names no such artifact."""
        found = next((a for a in self.artifacts(run_id) if a.sha256 == sha256), None)
        if found is None:
            raise KeyError(sha256)
        return found, self.kernel.store.get_artifact(run_id, sha256)

    async def replay(self, run_id: str) -> ReplayReport:
        """Strictly replay a run with zero live calls; every divergence is in the report."""
        self._require(run_id)
        return await ReplayEngine(self.kernel.skills, self.kernel.store).replay_run(
            run_id, strict=False
        )

    def holder(self, run_id: str) -> str | None:
        """Who writes this run from another process (``pid=… host=…``), or None."""
        return self.kernel.store.holder(run_id)

    # ------------------------------------------------------------ steering

    async def decide(
        self,
        run_id: str,
        step_id: str,
        *,
        approved: bool,
        by: str,
        reason: str | None = None,
        wait_s: float | None = None,
    ) -> Steered:
        """Approve or deny a waiting step, wherever its run lives (see the module docstring).

        Raises ``ApprovalError`` when the step is not waiting, or was decided meanwhile by
        someone else (the live run then refuses this decision; nothing is recorded twice).
        """
        self._require(run_id)
        delivered: Delivery
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
        st = self.state(run_id).steps.get(step_id)
        if st is None or st.approval is None:
            return False
        if (st.approval, st.approval_by) != decision:
            # Someone (the notebook's widget, another panel) decided first; the live run
            # moved our request aside. Same answer as deciding twice here.
            verdict = "approved" if st.approval else "denied"
            raise ApprovalError(
                f"step {step_id!r} of run {run_id!r} was {verdict} meanwhile by "
                f"{st.approval_by}; this decision was refused"
            )
        return True

    async def cancel(
        self, run_id: str, reason: str = "cancelled by the user", *, wait_s: float = 15.0
    ) -> Steered:
        """Cancel a run: live here (its engine stops it; in-flight steps are not waited
        for), stopped (recorded), or live in another process (posted; watched up to
        ``wait_s`` for the run to end)."""
        self._require(run_id)
        handle = self.kernel.handle(run_id)
        if handle is not None:
            if handle.engine is not None:
                handle.engine.cancel(reason)
            elif handle.task is not None:
                handle.task.cancel()
            return self._steered(run_id, "live", True)
        elsewhere = self.holder(run_id) is not None
        result = await self.kernel.cancel(run_id, reason, wait_s=wait_s)
        return self._steered(run_id, "posted" if elsewhere else "recorded", result.status.terminal)

    async def resume(self, run_id: str) -> RunSummary:
        """Continue a stopped run in this process. Refuses, before touching the trace, a
        run that another process writes (``TraceLockedError``)."""
        self._require(run_id)
        if self.kernel.handle(run_id) is None:
            holder = self.holder(run_id)
            if holder is not None:
                raise TraceLockedError(run_id, holder)
        handle = await self.kernel.resume(run_id)
        self._resumed.add(run_id)
        return self._summary(run_id, handle.state)

    async def wait(self, run_id: str) -> RunSummary:
        """Wait for a run live in this process to stop."""
        handle = self.kernel.handle(run_id)
        if handle is not None:
            await handle.wait()
        return self.summary(run_id)

    def close(self) -> None:
        """Cancel the runs resumed here that are still live; their traces stay resumable."""
        for run_id in sorted(self._resumed):
            handle = self.kernel.handle(run_id)
            if handle is not None and handle.task is not None:
                handle.task.cancel()

    # ------------------------------------------------------------ helpers

    def _require(self, run_id: str) -> None:
        validate_run_id(run_id)
        if not self.kernel.store.exists(run_id):
            raise RunNotFoundError(run_id, str(self.root))

    def state(self, run_id: str) -> RunState:
        """The run's folded state: the live one if this process drives it, else folded
        from its log (cached while the log does not change)."""
        handle = self.kernel.handle(run_id)
        if handle is not None:
            return handle.state
        stamp = self.kernel.store.log_stamp(run_id)
        hit = self._cache.get(run_id)
        if stamp is not None and hit is not None and hit.stamp == stamp:
            return hit.state
        # Folded from the log, not via snapshot+tail: snapshot loading may take the writer's
        # path, and reading must never disturb a writer in another process.
        state = RunState.from_records(self.kernel.store.read(run_id).records)
        if stamp is not None:
            self._cache[run_id] = _Cached(stamp, state)
        return state

    def _summary(self, run_id: str, state: RunState) -> RunSummary:
        live: Live | None = None
        holder: str | None = None
        if self.kernel.handle(run_id) is not None:
            live = "here"
        elif not state.status.terminal:
            holder = self.holder(run_id)
            live = "elsewhere" if holder else None
        return summary_of(state, live=live, holder=holder)

    def _steered(self, run_id: str, delivered: Delivery, applied: bool) -> Steered:
        row = self._summary(run_id, self.state(run_id))
        return Steered(**dict(row), delivered=delivered, applied=applied)
