"""``backtest_sweep`` across two Dask workers in hardened containers (hosts in miniature) built
from the skills image (sgr_skills, numpy, pandas, matplotlib, ffmpeg); one container is
``docker kill``ed mid-sweep: no grid cell is lost or scored twice."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dask_procs import SGR, WorkerKiller, container_cluster, progressing, worker_image
from heavy_helpers import kernel, one_step, remote_keys

import sgr_skills
from sgr_kernel.models.status import RunStatus
from sgr_kernel.testing.dask_containers import ContainerCluster
from sgr_skills.backtest._data import synthetic
from sgr_skills.backtest._jobs import score_cells

pytestmark = [pytest.mark.docker, pytest.mark.dask, pytest.mark.slow]

GRID = {"lookback": [5, 10, 20, 40, 60, 90, 120, 180], "threshold": [0.0, 0.01, 0.03]}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ContainerCluster]:
    docker, tag = worker_image(skills=Path(sgr_skills.__file__).parent)
    # what a user runs finds the same content-tagged image (built above, so no second build)
    made = subprocess.run(  # noqa: PLW1510 (checked below)
        [*SGR, "cluster", "image", "--with-skills", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) == {"image": tag}
    with container_cluster((docker, tag), tmp_path) as c:
        yield c


def test_a_sweep_across_worker_containers_survives_one_being_killed(
    cluster: ContainerCluster, tmp_path: Path
) -> None:
    inputs = {
        "strategy": "momentum",
        "data": {"kind": "synthetic", "assets": 40, "days": 3000, "seed": 4},
        "grid": GRID,
        "chunk_cells": 3,
        "top": 24,
    }

    def docker_kill(address: str) -> None:
        cluster.worker_at(address).kill()

    with cluster.dispatcher() as (d, client):

        async def go() -> tuple[Any, Any]:
            k = kernel(tmp_path / "home", d)
            try:
                return k, await k.run(plan=one_step("backtest_sweep", inputs))
            finally:
                await d.close()

        # the container of a worker executing a chunk is killed, once
        find = progressing(client, min_reports=0, by_address=True)
        with WorkerKiller(find, kill=docker_kill) as killer:
            k, res = asyncio.run(go())
    assert res.status is RunStatus.COMPLETED, f"{k.show(res.run_id)}\n{cluster.logs()}"
    out = res.outputs["s"]
    got = [tuple(r["params"].values()) for r in out["table"]]
    cells = {(lb, th) for lb in GRID["lookback"] for th in GRID["threshold"]}
    missing = len(cells - set(got))
    duplicated = len(got) - len(set(got))
    keys = remote_keys(k.store.read(res.run_id).records)
    print(
        f"FIGURE sweep_containers cells={len(got)} missing={missing} duplicated={duplicated} "
        f"killed={len(killer.killed)} jobs={out['jobs']} commits={len(keys)}"
    )
    assert len(killer.killed) == 1
    assert len(got) == len(cells) and missing == 0 and duplicated == 0
    assert len(keys) == len(set(keys)) == out["jobs"] + 1  # chunks and the report, once each
    assert {a["name"] for a in out["artifacts"]} >= {"heatmap.png", "equity.png"}
    # the containers' numpy scores exactly what this side's does
    close = synthetic(assets=40, days=3000, seed=4).close
    here = score_cells("momentum", close, sorted(cells), cost_bps=5.0, allow_short=True)
    want = {tuple(r["params"]): r["metrics"]["sharpe"] for r in here}
    assert {tuple(r["params"].values()): r["sharpe"] for r in out["table"]} == pytest.approx(want)
