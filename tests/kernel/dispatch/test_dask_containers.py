"""The same remote steps on Dask workers in hardened containers on an internal network (hosts
in miniature): a worker container killed mid-job, and one cut off from the network."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dask_procs import WorkerKiller, container_cluster, progressing, worker_image
from remote_helpers import commits, remote_plan, run_then_close, starts

from sgr_kernel._procs import owner_tag
from sgr_kernel.dispatch.config import load_dispatch_settings
from sgr_kernel.dispatch.dask import DaskDispatcher
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.errors import ClusterConnectError
from sgr_kernel.models.status import RunStatus
from sgr_kernel.testing.dask_containers import LABEL, OWNER_LABEL, ContainerCluster
from sgr_kernel.testing.jobs import RemoteJobSkill

pytestmark = [pytest.mark.docker, pytest.mark.dask, pytest.mark.slow]


@pytest.fixture(scope="module")
def image() -> tuple[Any, str]:
    return worker_image()


@pytest.fixture
def containers(image: tuple[Any, str], tmp_path: Path) -> Iterator[ContainerCluster]:
    with container_cluster(image, tmp_path) as c:
        yield c


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

    def lose(address: str) -> None:
        victim = containers.worker_at(address)
        if fault == "docker kill":
            victim.kill()
        else:  # no FIN: the scheduler notices only when the worker's TTL runs out
            containers.network.disconnect(victim, force=True)

    with containers.dispatcher() as (d, client):

        def make() -> Kernel:
            skills = {"remote_job": RemoteJobSkill}
            return Kernel(KernelConfig(home=tmp_path / "home"), skills=skills, dispatcher=d)

        # the worker of a job that has reported progress is lost, once
        with WorkerKiller(progressing(client, by_address=True), kill=lose) as killer:
            k, result = run_then_close(make, d, plan)
    ok, committed = commits(k.store.read(result.run_id).records)
    lost = n - len(ok)
    dup = sum(c - 1 for c in ok.values()) + sum(c - 1 for c in committed.values())
    reruns = sum(starts(log).values()) - n
    print(
        f"FIGURE containers fault={fault.replace(' ', '_')} jobs={n} lost={lost} "
        f"duplicate_commits={dup} reruns={reruns}"
    )
    assert result.status is RunStatus.COMPLETED, f"{k.show(result.run_id)}\n{containers.logs()}"
    assert len(killer.killed) == 1 and lost == 0 and dup == 0 and reruns >= 1
    assert sorted(result.outputs[f"j{i}"]["result"]["y"] for i in range(n)) == [4, 9]


def test_start_reaps_what_dead_owners_left_and_spares_live_ones(
    image: tuple[Any, str], tmp_path: Path
) -> None:
    """A test process SIGKILLed mid-run leaves its network and containers; the next start on
    this host removes them, and never those of a process still alive."""
    docker, tag = image
    gone = subprocess.Popen(["sleep", "60"])
    owners = {"dead": owner_tag(gone.pid), "live": owner_tag()}
    gone.kill()
    gone.wait()
    names = {who: f"sgr-orphan-{who}-{uuid.uuid4().hex[:6]}" for who in owners}
    for who, owner in owners.items():
        labels = {LABEL: names[who], OWNER_LABEL: owner}
        docker.networks.create(names[who], driver="bridge", internal=True, labels=labels)
        docker.containers.create(tag, ["-c", "pass"], name=names[who], labels=labels)
    data = tmp_path / "data"
    data.mkdir()
    c = ContainerCluster(docker, tag, data)
    try:
        c.start(0)
        left = {n.name for n in docker.networks.list(filters={"label": LABEL})}
        left |= {x.name for x in docker.containers.list(all=True, filters={"label": LABEL})}
        reaped, kept = names["dead"] not in left, names["live"] in left
        print(f"FIGURE reap dead_owner_reaped={reaped} live_owner_kept={kept}")
        assert names["dead"] not in left and c.reaped.count(names["dead"]) == 2  # both kinds
        assert names["live"] in left  # its owner (this process) is alive
    finally:
        c.close()
        for x in docker.containers.list(all=True, filters={"label": f"{LABEL}={names['live']}"}):
            x.remove(force=True)
        for n in docker.networks.list(filters={"label": f"{LABEL}={names['live']}"}):
            n.remove()


def test_workers_that_never_arrive_fail_naming_address_route_and_logs(
    image: tuple[Any, str], tmp_path: Path
) -> None:
    docker, tag = image
    data = tmp_path / "data"
    data.mkdir()
    c = ContainerCluster(docker, tag, data)
    try:
        c.start(0)  # a scheduler and no worker: nobody will arrive
        address = c.address
        d = DaskDispatcher(settings=load_dispatch_settings(env={}, address=address))
        try:
            with pytest.raises(ClusterConnectError) as caught:
                c.wait_workers(d.connect(), 1, timeout_s=2)
        finally:
            asyncio.run(d.close())
    finally:
        c.close()
    msg = str(caught.value)
    assert f"the scheduler is at {address}" in msg
    assert "route to it:" in msg and f"--- {c.sched_name}" in msg, msg
    assert "Scheduler at:" in msg, msg  # the scheduler's own log is in the message
