"""T3.2/T3.3: every hostile payload is contained; a weakened profile is caught by the oracles."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from sgr_kernel.sandbox._profile import RUN_LABEL
from sgr_kernel.sandbox.base import SandboxLimits
from sgr_kernel.sandbox.docker import DockerSandbox

from ._hostile import CANARY_MOUNT, PAYLOADS, SECRET, Env, make_env

pytestmark = [pytest.mark.docker, pytest.mark.slow]

LIMITS = SandboxLimits(
    memory_mb=256,
    pids=64,
    tmpfs_mb=16,
    output_bytes=64 << 10,
    result_bytes=64 << 10,
    artifact_bytes=1 << 20,
    workspace_mb=64,
    workspace_files=2000,
    timeout_s=2.0,
)
MARKER_SLACK = 200  # the truncation marker appended after the cap


def _memory_held() -> int:
    """Bytes held by containers (the engine's cgroup), so unrelated work on the host does not
    move the figure; where no such cgroup is visible, the host's used memory."""
    v1 = Path("/sys/fs/cgroup/memory/docker/memory.stat")
    if v1.exists():
        return int(dict(line.split() for line in v1.read_text().splitlines())["total_rss"])
    v2 = Path("/sys/fs/cgroup/system.slice")
    if v2.exists():
        return sum(int(f.read_text()) for f in v2.glob("docker-*.scope/memory.current"))
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return (int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0])) << 10


def _weakened(env: Env, ws: Path) -> dict[str, Any]:
    """The negative control: network on, root, default capabilities, writable root, a host
    mount, a secret in the environment (never the PID namespace: kill -1 would hit the host)."""
    return {
        "network_mode": "bridge",
        "user": "0:0",
        "cap_drop": [],
        "security_opt": [],
        "read_only": False,
        "environment": {"SGR_SECRET": SECRET},
        "volumes": {
            str(ws): {"bind": "/workspace", "mode": "rw"},
            str(env.canary_dir): {"bind": CANARY_MOUNT, "mode": "rw"},
        },
    }


async def _one(
    env: Env, client: Any, name: str, code: str, ws: Path, weak: bool
) -> tuple[list[str], float, Any]:
    """Run one payload in a fresh session; return (breaches, wall seconds, result)."""
    run_id = f"hostile-{name}-{'weak' if weak else 'hard'}-{os.getpid()}"
    overrides = _weakened(env, ws) if weak else None
    sb = DockerSandbox(limits=LIMITS, interrupt_grace_s=1.0, unsafe_overrides=overrides)
    canaries = env.canary_state()
    hits = len(env.listener.hits)
    session = await sb.start(run_id, ws)
    t0 = time.perf_counter()
    try:
        r = await session.execute(env.fmt(code))
        wall = time.perf_counter() - t0
        probe = await session.execute("1 + 1", timeout_s=30)
    finally:
        await session.close()
    breaches = []
    captured = max(len(r.stdout.encode()), len(r.stderr.encode()))
    if captured > LIMITS.output_bytes + MARKER_SLACK:
        breaches.append(f"captured {captured} bytes of output")
    if env.canary_state() != canaries:
        breaches.append("host canary changed")
    if len(env.listener.hits) != hits:
        breaches.append(f"host listener reached: {env.listener.hits[hits:]}")
    text = f"{r.stdout}{r.stderr}{r.value_repr}{r.value}{r.error}"
    if SECRET in text:
        breaches.append("environment secret leaked")
    if not (probe.ok and probe.value == 2):
        breaches.append(f"sandbox unusable afterwards: {probe.error_type}")
    if client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}):
        breaches.append("container left behind")
    if client.containers.list(all=True, filters={"name": "sgr-breach"}):
        breaches.append("a container was created through the Docker socket")
        for c in client.containers.list(all=True, filters={"name": "sgr-breach"}):
            c.remove(force=True)
    return breaches, wall, r


def _suite(env: Env, client: Any, tmp: Path, weak: bool) -> tuple[dict[str, list[str]], float]:
    async def go() -> tuple[dict[str, list[str]], float]:
        out, walls = {}, []
        for name, code, check in PAYLOADS:
            ws = tmp / f"ws-{name}-{weak}"
            ws.mkdir()
            breaches, wall, result = await _one(env, client, name, code, ws, weak)
            if check is not None and (extra := check(result, ws)):
                breaches.append(extra)
            out[name] = breaches
            walls.append(wall)
            shutil.rmtree(ws, ignore_errors=True)
        return out, max(walls)

    return asyncio.run(go())


def test_hostile_payloads_contained_and_negative_control(
    docker_client: Any, tmp_path: Path
) -> None:
    env = make_env(tmp_path)
    sentinel = subprocess.Popen(["sleep", "600"])
    mem0, disk0 = _memory_held(), shutil.disk_usage(tmp_path).free
    procs0 = len([p for p in os.listdir("/proc") if p.isdigit()])
    try:
        hard, max_wall = _suite(env, docker_client, tmp_path, weak=False)
        hard_hits = len(env.listener.hits)
        mem1, disk1 = _memory_held(), shutil.disk_usage(tmp_path).free
        procs1 = len([p for p in os.listdir("/proc") if p.isdigit()])
        weak, _ = _suite(env, docker_client, tmp_path, weak=True)
    finally:
        env.listener.close()
        sentinel_alive = sentinel.poll() is None
        sentinel.kill()
        sentinel.wait()
    n = len(PAYLOADS)
    contained = sum(1 for b in hard.values() if not b)
    flagged = sum(1 for b in weak.values() if b)
    host_ok = sentinel_alive and mem1 - mem0 < 256 << 20 and disk0 - disk1 < 256 << 20
    print(
        f"FIGURE sandbox contained={contained}/{n} payloads={n} "
        f"connections_received={hard_hits} max_wall_s={max_wall:.2f} "
        f"deadline_s={LIMITS.timeout_s:g} output_cap={LIMITS.output_bytes} "
        f"containers_mem_delta_mb={(mem1 - mem0) >> 20} host_disk_delta_mb={(disk0 - disk1) >> 20} "
        f"host_procs_delta={procs1 - procs0}"
    )
    print(f"FIGURE sandbox weakened profile: flagged={flagged}/{n} (suite is sensitive)")
    for name, why in {**{f"hard:{k}": v for k, v in hard.items() if v}, **weak}.items():
        if why:
            print(f"  {name}: {'; '.join(why)}")
    assert {k: v for k, v in hard.items() if v} == {}
    assert host_ok
    assert flagged >= 5, weak
