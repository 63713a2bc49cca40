"""The heavy skills on real Dask: a plan file through a real ``sgr run`` process (its embedded
LocalCluster), strict replay with no job sent, and a sweep that loses workers mid-job yet
scores every grid cell exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dask_procs import SGR, WorkerKiller, cpu_cluster, need_dask, progressing, sgr_run_killed
from heavy_helpers import kernel, one_step, remote_keys

from sgr_kernel.models.status import RunStatus
from sgr_kernel.skills.registry import SkillRegistry

pytestmark = pytest.mark.dask


def _need_entry_points() -> None:
    missing = {"backtest_sweep", "video_render"} - set(SkillRegistry.default())
    if missing:
        pytest.fail(
            f"the installed sgr-jupyter does not register {sorted(missing)}: its metadata is "
            "older than pyproject.toml; reinstall it (pip install -e '.[heavy,dask]')"
        )


STORYBOARD = {
    "title": "Sweep results",
    "fps": 8,
    "resolution": "360p",
    "scenes": [
        {"title": "Sweep results", "layout": "title", "duration_s": 1},
        {
            "title": "Sharpe by lookback",
            "layout": "bar",
            "duration_s": 1,
            "data": {"labels": ["20", "60"], "series": {"sharpe": [0.4, 0.9]}},
        },
    ],
}


def _sgr(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SGR_HOME": str(home), "SGR_DISPATCHER": "dask"}
    env.pop("SGR_DASK_ADDRESS", None)
    return subprocess.run(  # noqa: PLW1510 (checked by the caller)
        [sys.executable, "-m", "sgr_kernel.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_plan_file_runs_both_skills_through_sgr_run_on_dask(tmp_path: Path) -> None:
    need_dask()
    _need_entry_points()
    plan = {
        "name": "heavy",
        "steps": [
            {
                "id": "sweep",
                "skill": "backtest_sweep",
                "capabilities": ["remote"],
                "inputs": {
                    "strategy": "momentum",
                    "data": {"kind": "synthetic", "assets": 4, "days": 800, "seed": 2},
                    "grid": {"lookback": [10, 20, 60], "threshold": [0.0, 0.05]},
                    "walk_forward": 2,
                    "chunk_cells": 2,
                },
            },
            {
                "id": "video",
                "skill": "video_render",
                "capabilities": ["remote"],
                "inputs": {"storyboard": STORYBOARD},
            },
        ],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    home = tmp_path / "home"
    ran = _sgr(home, "run", str(path), "--json")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    run_id = json.loads(ran.stdout)["run_id"]
    shown = _sgr(home, "show", run_id, "--json")
    view = json.loads(shown.stdout)
    steps = {s["id"]: s for s in view["steps"]}
    sweep, video = steps["sweep"]["output"], steps["video"]["output"]
    assert sweep["cells"] == 6 and sweep["jobs"] == 3 and len(sweep["walk_forward"]["folds"]) == 2
    assert video["frames"] == 16 and video["codec"] == "avc1"
    arts = {a["name"] for a in sweep["artifacts"]} | {a["name"] for a in video["artifacts"]}
    assert arts == {"heatmap.png", "equity.png", "sweep.csv", "video.mp4", "poster.png"}
    for a in sweep["artifacts"] + video["artifacts"]:
        assert (home / "runs" / run_id / "artifacts" / a["sha256"]).is_file()
    replay = _sgr(home, "replay", run_id, "--json")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    report = json.loads(replay.stdout)
    assert report["divergences"] == [] and report["live_calls"] == 0
    print(f"FIGURE heavy_cli steps=2 jobs={sweep['jobs'] + 2} replay_live_calls=0")


def test_a_sweep_that_loses_workers_scores_every_cell_exactly_once(tmp_path: Path) -> None:
    need_dask()
    from sgr_kernel.dispatch.config import load_dispatch_settings
    from sgr_kernel.dispatch.dask import DaskDispatcher
    from sgr_skills.backtest._data import synthetic
    from sgr_skills.backtest._jobs import score_cells

    data = {"kind": "synthetic", "assets": 40, "days": 3000, "seed": 4}
    grid = {"lookback": [5, 10, 20, 40, 60, 90, 120, 180], "threshold": [0.0, 0.01, 0.03]}
    n = 24
    settings = load_dispatch_settings(env={}, allowed_failures=6, local_workers=2)
    d = DaskDispatcher(settings=settings)
    client = d.connect()

    inputs = {"strategy": "momentum", "data": data, "grid": grid, "chunk_cells": 3, "top": n}

    async def go() -> tuple[Any, Any]:
        k = kernel(tmp_path, d)
        try:
            return k, await k.run(plan=one_step("backtest_sweep", inputs))
        finally:
            await d.close()

    # kill -9 a worker executing an sgr job, up to twice (chunks are too short to wait for
    # a progress report)
    with WorkerKiller(progressing(client, min_reports=0), limit=2) as killer:
        k, res = asyncio.run(go())
    kills = killer.killed
    assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
    table = res.outputs["s"]["table"]
    got = [tuple(r["params"].values()) for r in table]
    cells = [[lb, th] for lb in grid["lookback"] for th in grid["threshold"]]
    missing = len({tuple(c) for c in cells} - set(got))
    duplicated = len(got) - len(set(got))
    keys = remote_keys(k.store.read(res.run_id).records)
    print(
        f"FIGURE sweep cells={len(got)} missing={missing} duplicated={duplicated} "
        f"worker_kills={len(kills)} jobs={res.outputs['s']['jobs']} commits={len(keys)}"
    )
    assert len(got) == n and missing == 0 and duplicated == 0
    assert len(kills) >= 1  # a worker really died holding a job
    assert len(keys) == len(set(keys)) == res.outputs["s"]["jobs"] + 1  # each job logged once
    close = synthetic(assets=40, days=3000, seed=4).close
    want = {
        tuple(r["params"]): r["metrics"]["sharpe"]
        for r in score_cells("momentum", close, cells, cost_bps=5.0, allow_short=True)
    }
    assert {tuple(r["params"].values()): r["sharpe"] for r in table} == pytest.approx(want)


def _ok_results(home: Path, run_id: str) -> int:
    wal = home / "runs" / run_id / "wal.jsonl"
    try:
        lines = wal.read_text().splitlines()
    except FileNotFoundError:
        return 0
    n = 0
    for line in lines:
        with contextlib.suppress(ValueError):
            rec = json.loads(line)
            data = rec.get("data") or {}
            n += (
                rec.get("type") == "result"
                and data.get("kind") == "remote"
                and bool(data.get("ok"))
            )
    return n


def test_a_sweep_whose_sgr_run_dies_resumes_without_redoing_finished_chunks(
    tmp_path: Path,
) -> None:
    """``sgr run`` SIGKILLed mid-sweep; ``sgr resume`` serves the chunks whose results were
    logged from the trace, re-attaches to those the scheduler still holds, and completes."""
    need_dask()
    _need_entry_points()
    from sgr_kernel.trace.base import RecordType
    from sgr_kernel.trace.wal import FileTraceStore

    with cpu_cluster(tmp_path) as cluster:
        plan = {
            "name": "sweep",
            "steps": [
                {
                    "id": "s",
                    "skill": "backtest_sweep",
                    "capabilities": ["remote"],
                    "inputs": {
                        "strategy": "momentum",
                        "data": {"kind": "synthetic", "assets": 100, "days": 6000, "seed": 3},
                        "grid": {
                            "lookback": [5, 10, 20, 40, 60, 90, 120, 180],
                            "threshold": [0.0, 0.01, 0.03],
                        },
                        "chunk_cells": 2,
                        "top": 24,
                    },
                }
            ],
        }
        path = tmp_path / "plan.json"
        path.write_text(json.dumps(plan))
        home = tmp_path / "home"
        env = {**cluster.env, "SGR_HOME": str(home)}

        def first(run: Path) -> bool:
            return _ok_results(home, run.name) >= 1

        run_id = sgr_run_killed(path, env, first, "a first chunk result")
        before = _ok_results(home, run_id)
        resumed = subprocess.run(  # noqa: PLW1510 (checked below)
            [*SGR, "resume", run_id, "--json"], env=env, capture_output=True, text=True, timeout=300
        )
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        records = FileTraceStore(home).read(run_id).records
        results = [
            r.data
            for r in records
            if r.type is RecordType.RESULT and r.data.get("kind") == "remote" and r.data.get("ok")
        ]
        carried = [d for d in results if d.get("carried")]
        live = [str(d["key"]) for d in results if not d.get("carried")]
        out = json.loads(resumed.stdout)
        assert out["status"] == "COMPLETED", out
        print(
            f"FIGURE sweep_resume jobs=13 logged_before_kill={before} carried={len(carried)} "
            f"duplicate_live_results={len(live) - len(set(live))}"
        )
        assert before < 13, "the kill came after the sweep had finished: nothing was tested"
        assert len(carried) == before >= 1  # finished chunks are served from the trace
        assert len(live) == len(set(live))  # and none of them is logged twice
        assert len({str(d["key"]) for d in results}) == 13  # 12 chunks + the report


def test_declared_resources_route_the_jobs_and_a_missing_one_fails_clearly(
    tmp_path: Path,
) -> None:
    need_dask()
    from sgr_kernel.dispatch.config import load_dispatch_settings
    from sgr_kernel.dispatch.dask import DaskDispatcher

    d = DaskDispatcher(
        settings=load_dispatch_settings(env={}, resource_wait_s=1.0, local_workers=1)
    )
    inputs = {"storyboard": STORYBOARD, "resources": {"VIDEO": 1}}

    async def go() -> tuple[Any, Any]:
        k = kernel(tmp_path, d)
        try:
            return k, await k.run(plan=one_step("video_render", inputs))
        finally:
            await d.close()

    k, res = asyncio.run(go())
    assert res.status is RunStatus.FAILED
    step = k.show(res.run_id).steps[0]
    assert "VIDEO" in (step.error or "") and step.attempts == 1, step
