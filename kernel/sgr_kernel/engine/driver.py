"""Drive one run from where its log stands to where it stops: plan if needed, then schedule.

Used for live runs (``Kernel``) and strict replay (``ReplayEngine``) alike, so a failure is
handled the same way in both: whatever goes wrong, the log says so — a run is never left
looking alive — except a replay divergence, which is the replay's finding and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from sgr_kernel.engine._launch import LaunchSource
from sgr_kernel.engine.lifecycle import LifecycleEngine
from sgr_kernel.engine.planning import plan_run
from sgr_kernel.engine.runtime import RunRuntime
from sgr_kernel.errors import ReplayDivergenceError
from sgr_kernel.graph.dag import Dag, build_dag
from sgr_kernel.models.plan import Plan
from sgr_kernel.models.status import RunStatus
from sgr_kernel.skills.base import Skill

__all__ = ["drive"]


async def drive(
    rt: RunRuntime,
    skills: Mapping[str, type[Skill]],
    plan: Plan | None,
    *,
    pause_when_waiting: bool,
    inbox: Path | None = None,
    on_engine: Callable[[LifecycleEngine], None] | None = None,
    source: Callable[[Plan], LaunchSource] | None = None,
    dag: Dag | None = None,
) -> None:
    """Plan (when ``plan`` is None) and run the plan; record any failure in the run's log.

    ``source`` builds the scheduler's launch source for the plan (strict replay passes the
    recording's); by default ready steps launch live, in plan order. ``dag``: the plan's DAG
    when the caller already built it while validating.
    """
    journal = rt.journal
    try:
        if plan is None:
            plan = await plan_run(rt, skills)
        rt.budget.policy = rt.config.budget.merged(plan.budget)
        engine = LifecycleEngine(
            rt,
            plan,
            dag if dag is not None else build_dag(plan),
            skills,
            pause_when_waiting=pause_when_waiting,
            inbox=inbox,
            source=source(plan) if source is not None else None,
        )
        if on_engine is not None:
            on_engine(engine)
        await engine.run()
    except ReplayDivergenceError:
        raise
    except Exception as e:
        if not journal.state.status.terminal:
            journal.run_status(RunStatus.FAILED, f"{type(e).__name__}: {e}")
