"""A Dask scheduler and workers as hardened containers on an internal Docker network: separate
hosts in miniature, for tests and benchmarks. Containers and the network carry a label and
:meth:`ContainerCluster.close` removes them. The image is
:func:`sgr_kernel.dispatch.worker_image.build_worker_image`'s."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

__all__ = ["HARDENED", "LABEL", "ContainerCluster"]

LABEL = "org.sgr.test"
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


class ContainerCluster:
    """``start()`` a scheduler and ``n`` single-worker containers sharing ``data`` at /data."""

    def __init__(self, docker: Any, image: str, data: Path, *, worker_ttl: str = "10s") -> None:
        self.docker, self.image, self.data = docker, image, data
        self.tag = uuid.uuid4().hex[:8]
        self.net_name = f"sgr-dask-{self.tag}"
        self.sched_name = f"sgr-sched-{self.tag}"
        self.worker_ttl = worker_ttl
        self.network: Any = None
        self.scheduler: Any = None
        self.workers: list[Any] = []
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
            labels={LABEL: self.tag},
            **HARDENED,
        )

    def start(self, n: int) -> None:
        self.network = self.docker.networks.create(
            self.net_name, driver="bridge", internal=True, labels={LABEL: self.tag}
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

    def logs(self) -> str:
        parts = []
        for c in (self.scheduler, *self.workers):
            if c is not None:
                with contextlib.suppress(Exception):
                    parts.append(c.logs(tail=30).decode(errors="replace"))
        return "\n".join(parts)

    def close(self) -> None:
        for c in self.docker.containers.list(all=True, filters={"label": f"{LABEL}={self.tag}"}):
            c.remove(force=True)
        if self.network is not None:
            self.network.remove()
