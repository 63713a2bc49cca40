"""Dask dispatch overhead vs a raw ``client.submit`` (target <= 1.2x), and 1,000 tiny jobs.

One LocalCluster (2 single-threaded worker processes) and one client serve both sides, and the
rounds interleave, so load on the machine hits both alike.

- Overhead: ``N`` tiny jobs one after another. Baseline: ``client.submit(noop, pure=False)`` then
  ``future.result()``. Ours: ``DaskDispatcher.submit`` → ``result`` → ``release`` (the job runs in
  sgr's worker wrapper with its job context; the key is the idempotency key).
- Throughput: 1,000 tiny jobs in flight at once. Baseline: ``client.map`` + ``client.gather``.
  Ours: 1,000 concurrent ``submit``/``result``/``release`` on one asyncio loop.
- For scale: the same tiny job as a whole step (WAL intent/result records, ``durability=none``),
  on Dask and on the in-process inline dispatcher.

- Many hosts: a CPU sweep (8 pure-Python jobs) on 1 vs 2 worker containers (hardened, on an
  internal network; ``sgr_kernel.testing.dask_containers``); target >= 1.8x when the cores are
  free. The load average is recorded with it. Skipped (and said so) without Docker.

Run: ``.venv/bin/python bench/dask_bench.py``. Writes ``bench/results/dask.json``.
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
from sgr_kernel.dispatch.inline import InlineDispatcher
from sgr_kernel.engine import Kernel, KernelConfig, RunConfig
from sgr_kernel.models.plan import plan_from_data
from sgr_kernel.models.remote import RemoteJobSpec
from sgr_kernel.testing.jobs import RemoteJobSkill, noop
from sgr_kernel.trace.base import Durability

OUT = Path(__file__).parent / "results" / "dask.json"
ROUNDS = 3
N_SEQ = 200
N_TPUT = 1000
N_STEPS = 100
CPU_N = 12_000_000  # about 1 s of pure-Python work per job on one core here


def _raw_seq(client: Any, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        client.submit(noop, pure=False).result()
    return (time.perf_counter() - t0) / n


async def _ours_one(d: DaskDispatcher, key: str) -> None:
    h = await d.submit(RemoteJobSpec(job_type="sgr_test_noop", idempotency_key=key))
    await d.result(h, timeout_s=60)
    await d.release(h)


async def _ours_seq(d: DaskDispatcher, n: int, tag: str) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        await _ours_one(d, f"bench:{tag}:{i}")
    return (time.perf_counter() - t0) / n


def _raw_tput(client: Any, n: int) -> float:
    t0 = time.perf_counter()
    client.gather(client.map(lambda _: noop(), range(n), pure=False))
    return n / (time.perf_counter() - t0)


async def _ours_tput(d: DaskDispatcher, n: int, tag: str) -> float:
    t0 = time.perf_counter()
    await asyncio.gather(*(_ours_one(d, f"tput:{tag}:{i}") for i in range(n)))
    return n / (time.perf_counter() - t0)


async def _steps(d: Any, home: Path, n: int) -> float:
    steps = [
        {
            "id": f"s{i}",
            "skill": "remote_job",
            "capabilities": ["remote"],
            "inputs": {"job_type": "sgr_test_noop"},
        }
        for i in range(n)
    ]
    plan = plan_from_data({"name": "tiny", "steps": steps})
    run = RunConfig(durability=Durability.NONE, max_concurrency=1)
    k = Kernel(
        KernelConfig(home=home, run=run), skills={"remote_job": RemoteJobSkill}, dispatcher=d
    )
    t0 = time.perf_counter()
    result = await k.run(plan=plan)
    assert result.status.value == "COMPLETED", result
    return (time.perf_counter() - t0) / n


async def _sweep(address: str, n_jobs: int, tag: str) -> float:
    d = DaskDispatcher(settings=load_dispatch_settings(env={}, address=address))
    try:
        t0 = time.perf_counter()
        hs = [
            await d.submit(
                RemoteJobSpec(
                    job_type="sgr_test_cpu", params={"n": CPU_N}, idempotency_key=f"{tag}:{i}"
                )
            )
            for i in range(n_jobs)
        ]
        for h in hs:
            await d.result(h, timeout_s=600)
            await d.release(h)
        return time.perf_counter() - t0
    finally:
        await d.close()


def _containers() -> dict[str, Any]:
    try:
        from sgr_kernel.dispatch.worker_image import build_worker_image
        from sgr_kernel.sandbox._client import connect, default_image, require_image
        from sgr_kernel.testing.dask_containers import ContainerCluster

        docker = connect(timeout=60)
        require_image(docker, default_image())
        image = build_worker_image(docker, base=default_image())
    except Exception as e:
        return {"skipped": f"no Docker sandbox image: {e}"}
    times: dict[int, float] = {}
    load_before = os.getloadavg()[0]
    for n in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            c = ContainerCluster(docker, image, Path(tmp))
            try:
                c.start(n)
                from distributed import Client

                with Client(c.address, timeout=60, set_as_default=False) as cl:
                    cl.wait_for_workers(n, timeout=120)
                asyncio.run(_sweep(c.address, 2, f"warm{n}"))
                times[n] = min(asyncio.run(_sweep(c.address, 8, f"s{n}r{r}")) for r in range(2))
            finally:
                c.close()
    return {
        "sweep_s": {"1_container": round(times[1], 2), "2_containers": round(times[2], 2)},
        "speedup_2_vs_1": round(times[1] / times[2], 2),
        "loadavg_1m_before": round(load_before, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=":0", silence_logs=logging.ERROR
    )
    client = Client(cluster, set_as_default=False)
    d = DaskDispatcher(client=client, settings=load_dispatch_settings(env={}))
    raw_s, ours_s, raw_t, ours_t, step_s, inline_s = [], [], [], [], [], []
    try:
        client.submit(noop, pure=False).result()  # warm both workers' imports
        asyncio.run(_ours_seq(d, 20, "warm"))
        for r in range(ROUNDS):
            raw_s.append(_raw_seq(client, N_SEQ))
            ours_s.append(asyncio.run(_ours_seq(d, N_SEQ, f"r{r}")))
            raw_t.append(_raw_tput(client, N_TPUT))
            ours_t.append(asyncio.run(_ours_tput(d, N_TPUT, f"r{r}")))
            with tempfile.TemporaryDirectory() as tmp:
                step_s.append(asyncio.run(_steps(d, Path(tmp), N_STEPS)))
            with tempfile.TemporaryDirectory() as tmp:
                inline_s.append(asyncio.run(_steps(InlineDispatcher(), Path(tmp), N_STEPS)))
    finally:
        client.close()
        cluster.close()
    containers = _containers()
    raw, ours = statistics.median(raw_s), statistics.median(ours_s)
    metrics = {
        "ms_per_job_sequential": {"raw_submit": round(raw * 1e3, 2), "ours": round(ours * 1e3, 2)},
        "overhead_ratio": round(ours / raw, 3),
        "jobs_per_s_1000_tiny": {
            "raw_map_gather": round(statistics.median(raw_t), 1),
            "ours": round(statistics.median(ours_t), 1),
        },
        "throughput_ratio": round(statistics.median(ours_t) / statistics.median(raw_t), 3),
        "containers_cpu_sweep": containers,
        "ms_per_remote_step_through_engine": {
            "dask": round(statistics.median(step_s) * 1e3, 2),
            "inline": round(statistics.median(inline_s) * 1e3, 2),
        },
    }
    result = {
        "bench": "dask",
        "rounds": ROUNDS,
        "workers": 2,
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
        "metrics": metrics,
        "target": "overhead_ratio <= 1.2 (ours vs raw client.submit, sequential tiny jobs)",
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(
        f"FIGURE dask overhead_ratio={metrics['overhead_ratio']} "
        f"raw_ms={metrics['ms_per_job_sequential']['raw_submit']} "
        f"ours_ms={metrics['ms_per_job_sequential']['ours']} "
        f"tput_raw={metrics['jobs_per_s_1000_tiny']['raw_map_gather']} "
        f"tput_ours={metrics['jobs_per_s_1000_tiny']['ours']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
