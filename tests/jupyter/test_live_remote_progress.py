"""A remote step's progress reaches the RunView live, on a real Dask cluster: a bar-like
``progress`` entry per step, moving before the step commits, ending at 1.0 with its message."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from pydantic import BaseModel

from sgr_jupyter.magics import SgrMagics
from sgr_jupyter.session import Session
from sgr_jupyter.widgets import RunView
from sgr_kernel.dispatch.base import current_job, job
from sgr_kernel.skills import registry
from sgr_kernel.skills.base import CAP_REMOTE, Skill

pytestmark = [pytest.mark.dask, pytest.mark.slow]


@job("live_view_count")
def count(n: int) -> dict[str, Any]:
    ctx = current_job()
    for i in range(n):
        time.sleep(0.15)
        ctx.progress((i + 1) / n, f"{i + 1}/{n} counted", done=i + 1)
    return {"total": n}


class CountIn(BaseModel):
    n: int


class CountOut(BaseModel):
    total: int
    artifacts: list[Any] = []


class Count(Skill):
    name = "live_view_count"
    description = "Count slowly on a Dask worker, reporting progress."
    Input, Output = CountIn, CountOut
    capabilities = frozenset({CAP_REMOTE})
    idempotent = True

    async def run(self, ctx: Any, inputs: CountIn) -> CountOut:
        out = await ctx.remote("live_view_count", inputs.model_dump(), timeout_s=120)
        return CountOut(total=out["total"], artifacts=out.get("artifacts", []))


PLAN = """
name: counting
steps:
  - {id: a, skill: live_view_count, capabilities: [remote], inputs: {n: 8}}
"""


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[InteractiveShell]:
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    sh = InteractiveShell.instance()
    sh.config.pop("SgrMagics", None)
    session = Session()
    magics = SgrMagics(shell=sh, session=session)
    magics.home = str(tmp_path / "home")
    magics.widget = False
    magics.durability = "none"
    magics.dask_address = cluster.scheduler_address
    sh.register_magics(magics)
    yield sh
    session.close()
    sh.user_ns.pop("_sgr", None)
    cluster.close()


def test_progress_moves_live_before_the_remote_step_commits(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[float | None, str]] = []
    feed = RunView.feed

    def spy(self: RunView, rec: Any, schedule: Any = None) -> None:
        feed(self, rec, schedule)
        if rec.data.get("kind") == "progress" and rec.step == "a":
            entry = self.fold.live.progress["a"]
            seen.append((entry["fraction"], self.fold.states().get("a", "?")))

    monkeypatch.setattr(RunView, "feed", spy)
    monkeypatch.setitem(registry._LOCAL, Count.name, Count)  # this test's kernels only
    shell.run_cell_magic("sgr", "--plan --wait", PLAN)
    view = shell.user_ns["_sgr"].view
    view.flush()
    assert view.phase == "COMPLETED", view.reason
    running = [f for f, status in seen if status == "RUNNING"]
    assert running and min(f or 0 for f in running) < 1.0  # the bar moved while it ran
    final = view.progress["a"]
    assert final["fraction"] == 1.0 and final["message"] == "8/8 counted"
    assert final["metrics"] == {"done": 8} and final["t"] > 0
    print(f"FIGURE progress_reports_seen={len(seen)} while_running={len(running)}")
