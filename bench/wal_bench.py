"""WAL persistence cost per committed step vs the seed design, same machine, same run.

For a history of 10, 100, 1,000 and 10,000 records it times one committed step (one
durable ~400-byte record) for our WAL in ``sync``, ``batch`` and ``none`` mode, and for the
seed design (append the step to a list, ``json.dumps`` the whole trace, write a temp file,
fsync, ``os.replace``; docs/performance.md). Writes ``bench/results/wal.json``.

Run: ``.venv/bin/python bench/wal_bench.py`` (well under 2 minutes).
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sgr_kernel.trace import Durability, FileTraceStore, RecordType

HISTORIES = (10, 100, 1_000, 10_000)
OUR_STEPS = 100  # timed durable appends per history, mode and round
ROUNDS = 3  # histories interleaved per round, so drift on a shared disk hits all alike
SEED_REPS = {10: 31, 100: 31, 1_000: 21, 10_000: 9}
OUT = Path(__file__).parent / "results" / "wal.json"


def step_record(i: int) -> dict[str, object]:
    """The seed benchmark's step record (~400 bytes serialised)."""
    return {
        "run_id": "bench-run-000000000001",
        "step_id": f"step-{i:06d}",
        "node": "transform_revenue_by_region",
        "parents": [f"step-{max(i - 1, 0):06d}", f"step-{max(i - 2, 0):06d}"],
        "status": "committed",
        "attempt": 1,
        "inputs": {"path": "data/sales.csv", "group_by": ["region", "month"], "agg": "sum"},
        "outputs": {"rows": 1234 + i, "artifact": "a3f1c2d4e5b6a7980112233445566778"},
        "started_at": 1_700_000_000.0 + i,
        "finished_at": 1_700_000_000.5 + i,
        "duration_ms": 500.0,
        "error": None,
    }


def bench_ours(root: Path, n: int, mode: Durability, rnd: int) -> list[int]:
    """ns per durable append, ``OUR_STEPS`` samples, with ``n`` records already in the log."""
    store = FileTraceStore(root)
    run = f"h{n}-{mode.value}-{rnd}"
    with store.create(run, durability=Durability.NONE) as w:
        for i in range(n):
            w.append(RecordType.STEP, step_record(i), step=f"s{i}", ts=float(i))
    log, w = store.open_append(run, durability=mode)
    del log  # 10k live Records would make every GC pass (and so each append) slower
    gc.collect()
    samples = []
    with w:
        for _ in range(20):  # warm-up: first fsyncs of a fresh file also allocate blocks
            w.append(RecordType.EVENT, {"warm": True}, ts=0.0, durable=True)
        for i in range(n, n + OUR_STEPS):
            rec = step_record(i)
            t0 = time.perf_counter_ns()
            w.append(RecordType.STEP, rec, step=f"s{i}", ts=float(i), durable=True)
            samples.append(time.perf_counter_ns() - t0)
    return samples


def bench_seed(root: Path, n: int) -> float:
    """Median µs per step of the seed design (rewrite whole trace + fsync + replace)."""
    trace = [step_record(i) for i in range(n - 1)]
    path, tmp = root / f"seed-{n}.json", root / f"seed-{n}.json.tmp"
    samples = []
    for rep in range(SEED_REPS[n] + 2):
        t0 = time.perf_counter_ns()
        trace.append(step_record(n - 1 + rep))
        with open(tmp, "w") as f:
            f.write(json.dumps({"run_id": "bench", "steps": trace}))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dt = time.perf_counter_ns() - t0
        trace.pop()  # keep the history length at n
        if rep >= 2:  # two warm-ups
            samples.append(dt)
    return statistics.median(samples) / 1000


def main() -> int:
    results: dict[str, dict[str, float]] = {"sync": {}, "batch": {}, "none": {}, "seed": {}}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wal-bench-") as d:
        root = Path(d)
        pooled: dict[tuple[str, int], list[int]] = {}
        for rnd in range(ROUNDS):
            for n in HISTORIES:
                for mode in (Durability.SYNC, Durability.BATCH, Durability.NONE):
                    pooled.setdefault((mode.value, n), []).extend(bench_ours(root, n, mode, rnd))
        for (mode_name, n), samples in pooled.items():
            results[mode_name][str(n)] = round(statistics.median(samples) / 1000, 2)
        for n in HISTORIES:
            results["seed"][str(n)] = round(bench_seed(root, n), 2)
            row = "  ".join(f"{k}={v[str(n)]:.1f}µs" for k, v in results.items())
            print(f"history={n:>6}  {row}")
    lo, hi = str(HISTORIES[0]), str(HISTORIES[-1])
    metrics: dict[str, object] = {"cost_us_per_step": results}
    for mode in ("sync", "batch", "none"):
        metrics[f"{mode}_flatness_10k_over_10"] = round(results[mode][hi] / results[mode][lo], 3)
        metrics[f"{mode}_speedup_vs_seed_at_10k"] = round(
            results["seed"][hi] / results[mode][hi], 1
        )
    metrics["seed_growth_10k_over_10"] = round(results["seed"][hi] / results["seed"][lo], 1)
    metrics["targets"] = {"flatness_max": 1.2, "speedup_min_at_10k": 50}
    doc = {
        "name": "wal",
        "description": __doc__.splitlines()[0],
        "unit": "microseconds per committed step (median)",
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "wall_s": round(time.perf_counter() - t_start, 1),
        "metrics": metrics,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=2) + "\n")
    for key, value in metrics.items():
        if key.endswith(("flatness_10k_over_10", "speedup_vs_seed_at_10k")):
            print(f"{key} = {value}")
    flat = " ".join(f"{k}={v}" for k, v in metrics.items() if not isinstance(v, dict))
    print(f"FIGURE wal_bench {flat}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
