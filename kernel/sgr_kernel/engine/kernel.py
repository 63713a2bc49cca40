"""The Kernel: the one object callers hold — start, steer, resume, fork and inspect runs.

All coroutine methods run on the caller's event loop; the Jupyter session owns a loop thread
and calls in through it. Sync methods (``approve``, ``deny``, ``show``, ``runs``) must be
called on that same thread while a run is live.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sgr_kernel._home import default_root
from sgr_kernel.dispatch.base import Dispatcher
from sgr_kernel.engine._fork import fork_plan
from sgr_kernel.engine._handles import Delivery, RunHandle, RunResult, result_of
from sgr_kernel.engine._runs import RunStore
from sgr_kernel.engine.base import Clock, Entropy, RunConfig
from sgr_kernel.engine.driver import drive
from sgr_kernel.engine.journal import RunJournal
from sgr_kernel.engine.lifecycle import LifecycleEngine
from sgr_kernel.engine.replaying import ReplayReport, replay_records
from sgr_kernel.engine.runtime import HttpTransport, RunRuntime, Services
from sgr_kernel.errors import (
    RunNotCreatedError,
    SgrUsageError,
    TraceLockedError,
)
from sgr_kernel.graph.dag import Dag, check_plan
from sgr_kernel.llm.base import LLMClient
from sgr_kernel.models.plan import Plan, check_task
from sgr_kernel.models.plan_log import plan_record
from sgr_kernel.models.policies import BudgetPolicy
from sgr_kernel.models.status import RunStatus
from sgr_kernel.sandbox.base import Sandbox
from sgr_kernel.skills.base import Skill
from sgr_kernel.trace.base import TraceStore, TraceWriter
from sgr_kernel.trace.checkpoint import CheckpointManager, Resumed
from sgr_kernel.trace.state import RunState, RunStateCodec
from sgr_kernel.trace.view import RequestTrace

__all__ = ["Delivery", "Kernel", "KernelConfig", "RunHandle", "RunResult", "default_home"]


def default_home() -> Path:
    """The store root: ``SGR_HOME`` when set and not empty, else ``~/.sgr``."""
    return default_root()


@dataclass(frozen=True)
class KernelConfig:
    """Kernel-wide settings; ``run`` is the default for each new run."""

    home: Path = field(default_factory=default_home)
    run: RunConfig = field(default_factory=RunConfig)
    pause_when_waiting: bool = False
    """Pause a run (and return) when only approvals are left, instead of waiting for them."""


class Kernel:
    """Runs plans and tasks against a trace store, with the given services."""

    def __init__(
        self,
        config: KernelConfig | None = None,
        *,
        skills: Mapping[str, type[Skill]] | None = None,
        store: TraceStore | None = None,
        llm: LLMClient | None = None,
        sandbox: Sandbox | None = None,
        dispatcher: Dispatcher | None = None,
        http: HttpTransport | None = None,
        clock: Clock | None = None,
        entropy: Entropy | None = None,
    ) -> None:
        from sgr_kernel import _defaults

        self.config = config or KernelConfig()
        self.skills: Mapping[str, type[Skill]] = skills or _defaults.default_skills()
        self.store: TraceStore = store or _defaults.file_store(self.config.home)
        self.checkpoints: CheckpointManager[RunState] = CheckpointManager(
            self.store, RunStateCodec(), every=self.config.run.snapshot_every
        )
        self._clock = clock or _defaults.system_clock()
        self._entropy = entropy or _defaults.system_entropy()
        self._llm, self._sandbox, self._dispatcher = llm, sandbox, dispatcher
        self._http = http
        self._live: dict[str, RunHandle] = {}
        self._runs = RunStore(self.store, self.checkpoints, self._clock, self._entropy)

    # ------------------------------------------------------------ services

    def services(self) -> Services:
        """The live services; providers and backends are built on first use."""
        from sgr_kernel import _defaults

        if self._llm is None:
            self._llm = _defaults.LazyLLM()
        if self._sandbox is None:
            self._sandbox = _defaults.default_sandbox(self.store)
        if self._dispatcher is None:
            self._dispatcher = _defaults.default_dispatcher()
        return Services(
            clock=self._clock,
            entropy=self._entropy,
            store=self.store,
            llm=self._llm,
            sandbox=self._sandbox,
            dispatcher=self._dispatcher,
            http=self._http or _defaults.http_transport(),
        )

    def _new_run_id(self) -> str:
        return f"r{int(self._clock.now()):x}-{self._entropy.new_id()[:8]}"

    # ------------------------------------------------------------ starting

    async def start(
        self,
        *,
        plan: Plan | None = None,
        task: str | None = None,
        name: str | None = None,
        budget: BudgetPolicy | None = None,
        run_id: str | None = None,
        config: RunConfig | None = None,
        parent: dict[str, Any] | None = None,
        inherited: Mapping[str, dict[str, Any]] | None = None,
    ) -> RunHandle:
        """Validate, create the run, and start driving it. Invalid plans raise before anything
        is written or run."""
        if (plan is None) == (task is None):
            raise SgrUsageError("give either a plan or a task, not both and not neither")
        dag: Dag | None = None
        cfg = config or self.config.run
        if budget is not None:
            cfg = replace(cfg, budget=cfg.budget.merged(budget))
        if plan is not None:
            cfg = replace(cfg, budget=cfg.budget.merged(plan.budget))
            dag = check_plan(plan, self.skills, grants=cfg.grants, budget=cfg.budget)
        if task is not None:
            check_task(task)
        if name is not None and len(name) > 200:
            raise SgrUsageError(f"the run name is {len(name)} characters; use at most 200")
        self.services()  # provider and backend settings are checked before anything is written
        run_id = run_id or self._new_run_id()
        created = {
            "run_id": run_id,
            "name": name or (plan.name if plan else (task or "")[:60]),
            "task": task,
            **(plan_record(plan) if plan else {"plan": None}),
            "config": cfg.to_json(),
            "parent": parent,
        }
        journal = self._runs.create(
            created, plan=plan, inherited=inherited, durability=cfg.durability
        )
        forked = parent.get("run_id") if parent else None
        return self._launch(RunHandle(run_id, journal, None), cfg, plan, origin=forked, dag=dag)

    def _journal(self, run_id: str, writer: TraceWriter, state: RunState) -> RunJournal:
        return self._runs.journal(run_id, writer, state)

    def _launch(
        self,
        handle: RunHandle,
        cfg: RunConfig,
        plan: Plan | None,
        *,
        resumed: bool = False,
        origin: str | None = None,
        dag: Dag | None = None,
    ) -> RunHandle:
        rt = RunRuntime(
            handle.journal,
            cfg,
            self.services(),
            restore_session=resumed or origin is not None,
            workspace_from=origin,
        )
        self._live[handle.run_id] = handle
        handle.task = asyncio.ensure_future(self._drive(handle, rt, plan, dag))
        return handle

    async def _drive(
        self, handle: RunHandle, rt: RunRuntime, plan: Plan | None, dag: Dag | None
    ) -> RunResult:
        journal = handle.journal

        def attach(engine: LifecycleEngine) -> None:
            handle.engine = engine

        try:
            await drive(
                rt,
                self.skills,
                plan,
                pause_when_waiting=self.config.pause_when_waiting,
                inbox=self.store.run_dir(handle.run_id),
                on_engine=attach,
                dag=dag,
            )
        except asyncio.CancelledError:
            if handle.interrupted is None:
                raise
        finally:
            if handle.interrupted is not None and not journal.state.status.terminal:
                # Stopped with its process, not by a decision: resumable like a crash, and
                # saying so. Steps that were running stay RUNNING in the log, which is what
                # resume looks at.
                journal.run_status(RunStatus.INTERRUPTED, handle.interrupted)
            await rt.close()
            journal.sync()
            journal.writer.close()
            self.checkpoints.forget(handle.run_id)
            self._live.pop(handle.run_id, None)
        return result_of(journal.state)

    async def run(self, **kwargs: Any) -> RunResult:
        """Start a run and wait for it."""
        return await (await self.start(**kwargs)).wait()

    # ------------------------------------------------------------ resume and fork

    async def resume(self, run_id: str) -> RunHandle:
        """Continue a run that stopped (crash, pause) without redoing committed steps."""
        self._require(run_id)
        if run_id in self._live:
            raise SgrUsageError(f"run {run_id!r} is already running in this kernel")
        resumed = self._open(run_id)
        state: RunState = resumed.state
        if state.status.terminal:
            self._runs.release(run_id, resumed.writer)
            raise SgrUsageError(
                f"run {run_id!r} already ended {state.status.value}; nothing to resume "
                "(`sgr fork` starts a new run from one of its steps)"
            )
        cfg = RunConfig.from_json(state.config)
        journal = self._journal(run_id, resumed.writer, state)
        if state.status is RunStatus.CREATED and state.plan is not None:
            # Killed between `run_created` and `PLANNED`: finish that hop, or the run could
            # never leave CREATED (CREATED -> COMPLETED is not in the table).
            journal.run_status(RunStatus.PLANNED)
        handle = RunHandle(run_id, journal, resumed.log.report)
        origin = (state.parent or {}).get("run_id")
        return self._launch(handle, cfg, state.plan, resumed=True, origin=origin)

    def _open(self, run_id: str) -> Resumed[RunState]:
        return self._runs.open(run_id, durability=self.config.run.durability)

    def interrupt(self, run_id: str | None = None, reason: str = "interrupted") -> list[str]:
        """Stop live runs (one, or all) because their process is going away: each ends
        INTERRUPTED, resumable with ``resume``. Returns the ids it stopped; await their
        handles' ``wait()`` for the record to be written."""
        stopped = []
        for rid, handle in list(self._live.items()):
            if run_id is not None and rid != run_id:
                continue
            if handle.task is not None and not handle.task.done():
                handle.interrupted = reason
                handle.task.cancel()
                stopped.append(rid)
        return stopped

    async def fork(
        self,
        run_id: str,
        *,
        from_step: str,
        inputs: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> RunHandle:
        """A new run sharing the old one's committed steps outside ``from_step`` and its
        descendants; those go live, ``from_step`` with ``inputs`` merged over its own."""
        old = self.load(run_id)
        plan, inherited = fork_plan(old, run_id, from_step, inputs)
        return await self.start(
            plan=plan,
            name=name or f"{old.name} (fork of {run_id} at {from_step})",
            config=RunConfig.from_json(old.config),
            parent={"run_id": run_id, "from_step": from_step},
            inherited=inherited,
        )

    # ------------------------------------------------------------ steering

    def approve(self, run_id: str, step_id: str, *, by: str = "user") -> Delivery:
        """Approve a waiting step. See :data:`Delivery` for where the decision went."""
        return self._decide(run_id, step_id, True, by=by, reason=None)

    def deny(
        self, run_id: str, step_id: str, *, by: str = "user", reason: str | None = None
    ) -> Delivery:
        """Deny a waiting step (it FAILS, its dependents are SKIPPED)."""
        return self._decide(run_id, step_id, False, by=by, reason=reason)

    def _decide(
        self, run_id: str, step_id: str, approved: bool, *, by: str, reason: str | None
    ) -> Delivery:
        live = self._live.get(run_id)
        if live is not None and live.engine is not None:
            live.engine.decide(step_id, approved, by=by, reason=reason)
            return "live"
        return self._runs.decide(
            run_id,
            step_id,
            approved,
            by=by,
            reason=reason,
            durability=self.config.run.durability,
        )

    async def cancel(
        self, run_id: str, reason: str = "cancelled by the user", *, wait_s: float = 15.0
    ) -> RunResult:
        """Cancel a run: live here, stopped, or live in another process (posted to its inbox;
        ``wait_s`` bounds how long to watch for it to end)."""
        live = self._live.get(run_id)
        if live is not None:
            if live.engine is not None:
                live.engine.cancel(reason)
            elif live.task is not None:
                live.task.cancel()
            return await live.wait()
        self._require(run_id)
        try:
            resumed = self._open(run_id)
        except TraceLockedError:
            self._runs.post(run_id, "cancel", reason=reason)
            return await self.wait_elsewhere(
                run_id, lambda st: st.status.terminal, timeout_s=wait_s
            )
        return self._runs.cancel_stopped(resumed, run_id, reason)

    # ------------------------------------------------------------ inspecting

    def _require(self, run_id: str) -> None:
        self._runs.require(run_id)

    def load(self, run_id: str) -> RunState:
        """The run's state from its snapshot and log (read-only)."""
        live = self._live.get(run_id)
        if live is not None:
            return live.state
        return self._runs.load(run_id)

    async def wait_elsewhere(
        self,
        run_id: str,
        done: Callable[[RunState], bool],
        *,
        timeout_s: float = 15.0,
        poll_s: float = 0.1,
    ) -> RunResult:
        """Watch (read-only) a run live in another process until ``done(state)`` or timeout."""
        return await self._runs.watch(run_id, done, timeout_s=timeout_s, poll_s=poll_s)

    def handle(self, run_id: str) -> RunHandle | None:
        return self._live.get(run_id)

    def runs(self) -> list[RunState]:
        """Every run in the store, oldest first; one whose creation never became durable did
        not happen and is not listed."""
        out = []
        for run_id in self.store.list_runs():
            try:
                out.append(self.load(run_id))
            except RunNotCreatedError:
                continue
        return out

    async def replay(self, run_id: str, *, strict: bool = False) -> ReplayReport:
        """Strictly replay a recorded run: zero live calls. ``strict``: the first divergence
        raises ReplayDivergenceError instead of being reported."""
        self._require(run_id)
        report = await replay_records(self.skills, self.store.read(run_id).records)
        return report.raise_first() if strict else report

    def show(self, run_id: str) -> RequestTrace:
        """The run's ``RequestTrace`` view, materialised from its log."""
        from sgr_kernel.trace.view import materialise

        self._require(run_id)
        return materialise(self.store.read(run_id).records)
