"""The same remote steps on Dask workers in hardened containers on an internal network (hosts
in miniature): a worker container killed mid-job, and one cut off from the network."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dask_procs import wait_until
from remote_helpers import commits, remote_plan, starts

from sgr_kernel.dispatch.config import load_dispatch_settings
from sgr_kernel.dispatch.dask import DaskDispatcher
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.status import RunStatus
from sgr_kernel.testing.dask_containers import ContainerCluster
from sgr_kernel.testing.jobs import RemoteJobSkill

pytestmark = [pytest.mark.docker, pytest.mark.dask, pytest.mark.slow]


@pytest.fixture(scope="module")
def worker_image() -> tuple[Any, str]:
    from sgr_kernel.errors import SandboxUnavailable
    from sgr_kernel.sandbox._client import connect, default_image, require_image

    try:
        docker = connect(timeout=60)
        require_image(docker, default_image())
    except SandboxUnavailable as e:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and Docker or the sandbox image is unusable: {e}")
        pytest.skip(str(e))
    from sgr_kernel.dispatch.worker_image import build_worker_image

    return docker, build_worker_image(docker, base=default_image())


@pytest.fixture
def containers(worker_image: tuple[Any, str], tmp_path: Path) -> Iterator[ContainerCluster]:
    docker, image = worker_image
    data = tmp_path / "data"
    data.mkdir()
    c = ContainerCluster(docker, image, data)
    try:
        c.start(2)
        yield c
    finally:
        c.close()


def _run_in_thread(
    home: Path, cluster: ContainerCluster, plan: Any, box: dict[str, Any]
) -> threading.Thread:
    settings = load_dispatch_settings(env={}, address=cluster.address, connect_timeout_s=60)
    d = DaskDispatcher(settings=settings)
    box["d"] = d

    async def go() -> None:
        k = Kernel(KernelConfig(home=home), skills={"remote_job": RemoteJobSkill}, dispatcher=d)
        box["k"] = k
        try:
            d.connect().wait_for_workers(len(cluster.workers), timeout=120)
            box["result"] = await k.run(plan=plan)
        finally:
            await d.close()

    t = threading.Thread(target=lambda: asyncio.run(go()))
    t.start()
    return t


def _busy_worker(d: DaskDispatcher) -> str | None:
    c = d._client
    if c is None or c.status != "running":
        return None
    for addr, keys in c.processing().items():
        if any(str(k).startswith("sgr/") for k in keys):
            return str(addr)
    return None


@pytest.mark.parametrize("fault", ["docker kill", "network partition"])
def test_a_worker_container_lost_mid_job_loses_nothing(
    containers: ContainerCluster, tmp_path: Path, fault: str
) -> None:
    log = containers.data / "exec.log"
    n = 2
    params = {"seconds": 6.0, "steps": 12, "log": "/data/exec.log"}
    plan = remote_plan(
        {f"j{i}": {"job_type": "sgr_test_work", "params": {**params, "x": i + 2}} for i in range(n)}
    )
    box: dict[str, Any] = {}
    t = _run_in_thread(tmp_path / "home", containers, plan, box)
    try:
        wait_until("a job to start", lambda: starts(log), limit_s=180)
        addr = wait_until("a busy worker", lambda: _busy_worker(box["d"]))
        victim = containers.worker_at(addr)
        if fault == "docker kill":
            victim.kill()
        else:  # no FIN: the scheduler notices only when the worker's TTL runs out
            containers.network.disconnect(victim, force=True)
    finally:
        t.join(timeout=240)
    assert not t.is_alive(), "the run did not finish\n" + containers.logs()
    k, result = box["k"], box["result"]
    ok, committed = commits(k.store.read(result.run_id).records)
    lost = n - len(ok)
    dup = sum(c - 1 for c in ok.values()) + sum(c - 1 for c in committed.values())
    reruns = sum(starts(log).values()) - n
    print(
        f"FIGURE containers fault={fault.replace(' ', '_')} jobs={n} lost={lost} "
        f"duplicate_commits={dup} reruns={reruns}"
    )
    assert result.status is RunStatus.COMPLETED, k.show(result.run_id)
    assert lost == 0 and dup == 0 and reruns >= 1
    assert sorted(result.outputs[f"j{i}"]["result"]["y"] for i in range(n)) == [4, 9]
