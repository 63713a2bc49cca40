"""Backtest sweep throughput: grid cells per second on 1 vs 2 Dask workers, against a serial
in-process loop over the same cells in the same run.

- Baseline: ``score_cells`` over the whole grid in this process, one cell after another (the
  engine itself, no dispatch, no trace).
- Ours: the ``backtest_sweep`` skill through the kernel (``durability=none``), its grid cut
  into chunked jobs, on sgr's embedded LocalCluster with 1 and then 2 single-threaded workers
  (sgr's worker settings, including the malloc threshold). This includes the report job
  (heat map and equity PNGs) and the WAL records.

Rounds interleave, so load from other work hits every side alike; the load average is recorded.
Run: ``.venv/bin/python bench/sweep_bench.py``. Writes ``bench/results/sweep.json``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sgr_kernel.dispatch.config import load_dispatch_settings
from sgr_kernel.dispatch.dask import DaskDispatcher
from sgr_kernel.engine import Kernel, KernelConfig, RunConfig
from sgr_kernel.models.plan import plan_from_data
from sgr_kernel.trace.base import Durability
from sgr_skills.backtest import BacktestInput, BacktestSweepSkill
from sgr_skills.backtest._jobs import load_prices, score_cells

OUT = Path(__file__).parent / "results" / "sweep.json"
ROUNDS = 3
jobs = [0]
DATA = {"kind": "synthetic", "assets": 20, "days": 5040, "seed": 1}
GRID = {
    "lookback": list(range(5, 255, 10)),
    "threshold": [round(0.0025 * i, 4) for i in range(40)],
}  # 25 x 40 = 1,000 cells; chunks sized by the skill (about 30 cells a job)
INPUTS = {"strategy": "momentum", "data": DATA, "grid": GRID}


def serial() -> float:
    cells = BacktestInput.model_validate(INPUTS).cells()
    close = load_prices(DATA).close
    t0 = time.perf_counter()
    score_cells("momentum", close, cells, cost_bps=5.0, allow_short=True)
    return time.perf_counter() - t0


async def on_dask(d: DaskDispatcher, home: Path) -> float:
    k = Kernel(
        KernelConfig(home=home, run=RunConfig(durability=Durability.NONE)),
        skills={"backtest_sweep": BacktestSweepSkill},
        dispatcher=d,
    )
    step = {"id": "s", "skill": "backtest_sweep", "capabilities": ["remote"], "inputs": INPUTS}
    plan = plan_from_data({"name": "bench", "steps": [step]})
    t0 = time.perf_counter()
    res = await k.run(plan=plan)
    took = time.perf_counter() - t0
    assert res.status.value == "COMPLETED", k.show(res.run_id)
    jobs[0] = res.outputs["s"]["jobs"]
    return took


def main() -> None:
    logging.getLogger("distributed").setLevel(logging.ERROR)
    cells = len(BacktestInput.model_validate(INPUTS).cells())
    load0 = os.getloadavg()[0]
    dispatchers = {
        n: DaskDispatcher(settings=load_dispatch_settings(env={}, local_workers=n, local_threads=1))
        for n in (1, 2)
    }
    times: dict[str, list[float]] = {"serial": [], "dask_1_worker": [], "dask_2_workers": []}
    with tempfile.TemporaryDirectory() as tmp:

        async def rounds() -> None:
            for d in dispatchers.values():  # warm: clusters up, modules imported on workers
                await on_dask(d, Path(tmp) / "warm")
            for r in range(ROUNDS):
                times["serial"].append(serial())
                times["dask_1_worker"].append(await on_dask(dispatchers[1], Path(tmp) / f"a{r}"))
                times["dask_2_workers"].append(await on_dask(dispatchers[2], Path(tmp) / f"b{r}"))
            for d in dispatchers.values():
                await d.close()

        asyncio.run(rounds())
    med = {k: statistics.median(v) for k, v in times.items()}
    rate = {k: round(cells / v, 1) for k, v in med.items()}
    result: dict[str, Any] = {
        "bench": "sweep",
        "rounds": ROUNDS,
        "cpus": os.cpu_count(),
        "loadavg_1m_before": round(load0, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
        "workload": {
            "cells": cells,
            "assets": DATA["assets"],
            "days": DATA["days"],
            "jobs": jobs[0],
        },
        "metrics": {
            "cells_per_s": rate,
            "speedup_2_vs_1_workers": round(med["dask_1_worker"] / med["dask_2_workers"], 2),
            "dask_2_workers_vs_serial": round(med["serial"] / med["dask_2_workers"], 2),
            "dask_1_worker_vs_serial": round(med["serial"] / med["dask_1_worker"], 2),
        },
        "target": "speedup_2_vs_1_workers near 2 when both cores are free",
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    m = result["metrics"]
    print(
        f"FIGURE sweep cells={cells} serial={rate['serial']}/s dask1={rate['dask_1_worker']}/s "
        f"dask2={rate['dask_2_workers']}/s speedup_2_vs_1={m['speedup_2_vs_1_workers']} "
        f"load={result['loadavg_1m_before']}"
    )


if __name__ == "__main__":
    main()
