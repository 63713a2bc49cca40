"""Sandbox latency: warm round trip vs ``docker exec`` per call vs cold ``docker run --rm``.

All three run the same trivial cell in the same image, in one run, on this machine; the
session start, image build time (a no-op when the tag exists: pass ``--force`` to measure a
rebuild) and image size are reported too. Writes ``bench/results/sandbox.json``.

    .venv/bin/python bench/sandbox_bench.py [--n 200] [--force]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from sgr_kernel.sandbox import admin
from sgr_kernel.sandbox._profile import RUNNER_CMD
from sgr_kernel.sandbox.docker import DockerSandbox

OUT = Path(__file__).resolve().parent / "results" / "sandbox.json"
HARDEN = [
    "--network=none",
    "--read-only",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
    "--pids-limit=128",
    "--memory=512m",
    "--memory-swap=512m",
    "--init",
    "--user=65534:65534",
]


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


def _stats(xs: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(_pct(xs, 0.5), 3),
        "p95_ms": round(_pct(xs, 0.95), 3),
        "mean_ms": round(statistics.fmean(xs) * 1000, 3),
        "n": len(xs),
    }


async def _warm(n: int, starts: int) -> tuple[list[float], list[float], list[float]]:
    sb = DockerSandbox()
    start_times, rounds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        await asyncio.to_thread(sb.client)  # connect once, as a kernel would
        for i in range(starts):
            t0 = time.perf_counter()
            session = await sb.start(f"bench-{i}", Path(tmp) / f"ws{i}")
            start_times.append(time.perf_counter() - t0)
            if i < starts - 1:
                await session.close()
        for _ in range(20):  # warm-up
            await session.execute("1")
        for _ in range(n):
            t0 = time.perf_counter()
            r = await session.execute("1")
            rounds.append(time.perf_counter() - t0)
            assert r.ok and r.value == 1
        cid = session.container.id
        execs = []
        for _ in range(max(10, n // 10)):
            t0 = time.perf_counter()
            subprocess.run(
                ["docker", "exec", cid, "/usr/bin/python3.11", "-I", "-c", "1"],
                check=True,
                capture_output=True,
            )
            execs.append(time.perf_counter() - t0)
        await session.close()
    sb.close()
    return start_times, rounds, execs


def _cold(image: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        cmd = ["docker", "run", "--rm", *HARDEN, image, RUNNER_CMD[0], "-I", "-c", "1"]
        subprocess.run(cmd, check=True, capture_output=True)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200, help="warm round trips")
    ap.add_argument("--cold", type=int, default=15, help="cold docker run --rm calls")
    ap.add_argument("--starts", type=int, default=10, help="session starts")
    ap.add_argument("--force", action="store_true", help="rebuild the image to time it")
    args = ap.parse_args()
    build = admin.build_image(force=args.force)
    starts, warm, execs = asyncio.run(_warm(args.n, args.starts))
    cold = _cold(build.image, args.cold)
    w, e, c = _stats(warm), _stats(execs), _stats(cold)
    metrics: dict[str, Any] = {
        "warm_roundtrip": w,
        "docker_exec_per_call": e,
        "cold_docker_run_rm": c,
        "session_start": _stats(starts),
        "speedup_vs_exec_p50": round(e["p50_ms"] / w["p50_ms"], 1),
        "speedup_vs_cold_p50": round(c["p50_ms"] / w["p50_ms"], 1),
        "image_build_s": round(build.seconds, 2),
        "image_built_now": build.built,
        "image_size_mb": round(build.size_bytes / 1e6, 1),
        "targets": {"warm_p50_ms_max": 1.0, "speedup_vs_exec_min": 50, "session_start_ms_max": 300},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps({"bench": "sandbox", "image": build.image, "metrics": metrics}, indent=2)
    )
    print(
        f"FIGURE sandbox warm p50={w['p50_ms']}ms p95={w['p95_ms']}ms "
        f"docker_exec p50={e['p50_ms']}ms cold_run p50={c['p50_ms']}ms "
        f"speedup_vs_exec={metrics['speedup_vs_exec_p50']}x "
        f"session_start p50={metrics['session_start']['p50_ms']}ms "
        f"image={metrics['image_size_mb']}MB build={metrics['image_build_s']}s"
    )


if __name__ == "__main__":
    main()
