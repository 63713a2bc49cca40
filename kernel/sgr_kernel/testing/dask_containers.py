"""A Dask scheduler and workers as hardened containers on an internal Docker network: separate
hosts in miniature, for tests and benchmarks. The image is
:func:`sgr_kernel.dispatch.worker_image.build_worker_image`'s.

Containers and the network carry two labels: :data:`LABEL` (this cluster's tag) and
:data:`OWNER_LABEL` (``host:pid:start`` of the process that made them). :meth:`close`
removes them; a process that died before it could (SIGKILL, a crashed CI job) leaves them
behind, and the next :meth:`ContainerCluster.start` on this host reaps them
(:func:`reap_orphans`): a stale internal network may claim a subnet or route the new one
needs, and workers that registered then look lost to the host.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sgr_kernel._procs import orphaned, owner_tag
from sgr_kernel.errors import ClusterConnectError

__all__ = ["HARDENED", "LABEL", "OWNER_LABEL", "ContainerCluster", "reap_orphans"]

LABEL = "org.sgr.test"
OWNER_LABEL = "org.sgr.test.owner"
UNOWNED_AGE_S = 3600.0
"""Containers and networks labelled before owners were recorded are reaped past this age
(a test cluster lives minutes)."""
HARDENED: dict[str, Any] = {
    "read_only": True,
    "tmpfs": {"/tmp": "rw,size=256m"},
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "user": "65534:65534",
    "pids_limit": 256,
    "mem_limit": "1g",
    "nano_cpus": 1_000_000_000,
    "init": True,
}


def _stale(labels: dict[str, str], created_s: float, host: str) -> bool:
    owner = labels.get(OWNER_LABEL)
    if owner:
        return orphaned(owner, host)
    return time.time() - created_s > UNOWNED_AGE_S


def _epoch(created: Any) -> float:
    """A Docker creation time (epoch seconds, or RFC 3339 with nanoseconds) in epoch seconds."""
    if isinstance(created, int | float):
        return float(created)
    try:
        return (
            datetime.strptime(str(created)[:19], "%Y-%m-%dT%H:%M:%S")
            .replace(tzinfo=UTC)
            .timestamp()
        )
    except ValueError:
        return time.time()  # unreadable: treat as new, never reap on a guess


def reap_orphans(client: Any) -> list[str]:
    """Remove test-cluster containers, then networks, whose owning process on this host is
    gone (or whose pid was reused); returns their names. Live owners' and other hosts' are
    left alone; one removed meanwhile by someone else is not an error."""
    import socket

    import docker.errors

    host = socket.gethostname()
    removed: list[str] = []
    api = client.api
    for c in api.containers(all=True, filters={"label": LABEL}):
        if _stale(c.get("Labels") or {}, _epoch(c.get("Created")), host):
            with contextlib.suppress(docker.errors.APIError):
                api.remove_container(c["Id"], force=True)
                removed.append(str((c.get("Names") or [c["Id"]])[0]).lstrip("/"))
    for n in api.networks(filters={"label": LABEL}):
        if _stale(n.get("Labels") or {}, _epoch(n.get("Created")), host):
            with contextlib.suppress(docker.errors.APIError):
                api.remove_network(n["Id"])
                removed.append(str(n.get("Name") or n["Id"]))
    return removed


class ContainerCluster:
    """``start()`` a scheduler and ``n`` single-worker containers sharing ``data`` at /data."""

    def __init__(self, docker: Any, image: str, data: Path, *, worker_ttl: str = "10s") -> None:
        self.docker, self.image, self.data = docker, image, data
        self.tag = uuid.uuid4().hex[:8]
        self.labels = {LABEL: self.tag, OWNER_LABEL: owner_tag()}
        self.net_name = f"sgr-dask-{self.tag}"
        self.sched_name = f"sgr-sched-{self.tag}"
        self.worker_ttl = worker_ttl
        self.network: Any = None
        self.scheduler: Any = None
        self.workers: list[Any] = []
        self.reaped: list[str] = []
        os.chmod(data, 0o777)  # the workers' uid writes the execution log

    def _run(self, name: str, command: list[str], env: dict[str, str]) -> Any:
        return self.docker.containers.run(
            self.image,
            command,
            name=name,
            detach=True,
            network=self.net_name,
            environment={"HOME": "/tmp", **env},
            volumes={str(self.data): {"bind": "/data", "mode": "rw"}},
            labels=dict(self.labels),
            **HARDENED,
        )

    def start(self, n: int) -> None:
        self.reaped = reap_orphans(self.docker)
        self.network = self.docker.networks.create(
            self.net_name, driver="bridge", internal=True, labels=dict(self.labels)
        )
        self.scheduler = self._run(
            self.sched_name,
            ["-m", "distributed.cli.dask_scheduler", "--port", "8786", "--no-dashboard"],
            {
                "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL": self.worker_ttl,
                "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "3",
            },
        )
        for i in range(n):
            self.add_worker(f"c{i}")

    def add_worker(self, name: str) -> Any:
        w = self._run(
            f"sgr-worker-{self.tag}-{name}",
            ["-m", "sgr_kernel.cli", "worker", f"tcp://{self.sched_name}:8786", "--name", name],
            {},
        )
        self.workers.append(w)
        return w

    def ip(self, container: Any) -> str:
        container.reload()
        return str(container.attrs["NetworkSettings"]["Networks"][self.net_name]["IPAddress"])

    @property
    def address(self) -> str:
        return f"tcp://{self.ip(self.scheduler)}:8786"

    def worker_at(self, address: str) -> Any:
        """The container whose IP serves a worker address (tcp://IP:PORT)."""
        ip = address.split("://", 1)[-1].rsplit(":", 1)[0]
        return next(w for w in self.workers if self.ip(w) == ip)

    @contextlib.contextmanager
    def dispatcher(self, *, connect_timeout_s: float = 60) -> Iterator[tuple[Any, Any]]:
        """A :class:`~sgr_kernel.dispatch.dask.DaskDispatcher` on this cluster and its client,
        once every worker registered; closed on the way out whatever happened (a client left
        open goes on polling an address a later test's container may hold)."""
        import asyncio

        from sgr_kernel.dispatch.config import load_dispatch_settings
        from sgr_kernel.dispatch.dask import DaskDispatcher

        settings = load_dispatch_settings(
            env={}, address=self.address, connect_timeout_s=connect_timeout_s
        )
        d = DaskDispatcher(settings=settings)
        try:
            client = d.connect()
            self.wait_workers(client)
            yield d, client
        finally:
            asyncio.run(d.close())  # a no-op when the test closed it already

    def wait_workers(self, client: Any, n: int | None = None, *, timeout_s: float = 120) -> None:
        """Wait until ``n`` (default: all) workers registered with the scheduler, as ``client``
        sees it; past ``timeout_s``, :class:`ClusterConnectError` with what a person needs to
        tell a network fault from a slow start: the address, the host's route to it, the
        other networks on this engine and every container's log."""
        n = len(self.workers) if n is None else n
        try:
            client.wait_for_workers(n, timeout=timeout_s)
        except TimeoutError as e:
            raise ClusterConnectError(self.diagnose(f"{e} (wanted {n})")) from e

    def diagnose(self, what: str) -> str:
        """``what`` went wrong, and the facts that tell a network fault from a slow start."""
        try:
            ip = self.ip(self.scheduler)
            got = subprocess.run(["ip", "route", "get", ip], capture_output=True, text=True)  # noqa: PLW1510
            route = (got.stdout or got.stderr).strip() or "none"
        except (KeyError, OSError) as e:  # the scheduler has no address, or no `ip` here
            ip, route = "?", f"unknown ({type(e).__name__}: {e})"
        nets = []
        for net in self.docker.api.networks():
            subnets = [c.get("Subnet", "") for c in (net.get("IPAM") or {}).get("Config") or []]
            nets.append(f"{net.get('Name')} {','.join(subnets)}")
        return (
            f"{what}: the scheduler is at tcp://{ip}:8786 on network {self.net_name}; "
            f"this host's route to it: {route}; "
            f"networks on the engine: {'; '.join(nets)}; reaped at start: "
            f"{', '.join(self.reaped) or 'nothing'}. If the workers' logs below show them "
            "registered, suspect a leftover network on an overlapping subnet (docker network "
            f"ls).\n{self.logs()}"
        )

    def logs(self) -> str:
        parts = []
        for c in (self.scheduler, *self.workers):
            if c is not None:
                with contextlib.suppress(Exception):
                    parts.append(f"--- {c.name}\n" + c.logs(tail=30).decode(errors="replace"))
        return "\n".join(parts)

    def close(self) -> None:
        for c in self.docker.containers.list(all=True, filters={"label": f"{LABEL}={self.tag}"}):
            c.remove(force=True)
        if self.network is not None:
            self.network.remove()
