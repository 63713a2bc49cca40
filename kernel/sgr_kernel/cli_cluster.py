"""``sgr worker`` and ``sgr cluster``: the Dask side of the ``sgr`` command.

- ``sgr worker SCHEDULER [--resources GPU=1] [--nworkers N] [--nthreads T] [--name NAME]
  [--wait SECONDS]`` starts Dask workers (with nannies) with the project's Dask settings
  applied, once the scheduler answers (it may come up after its workers: 60 s by default).
- ``sgr cluster [show]`` lists workers, resources, memory and the sgr jobs held, with run and
  step; ``sgr cluster jobs``; ``sgr cluster cancel KEY|RUN``; ``sgr cluster connect ADDR``
  checks an address; ``sgr cluster local N`` runs a local cluster in the foreground;
  ``sgr cluster image [--with-skills]`` builds the worker container image from the local
  sandbox image (with the built-in skills and the ``heavy`` extra's wheels if asked).

The scheduler is ``--address``, else the configured one (``SGR_DASK_ADDRESS``, ``[tool.sgr.dask]``).
Bad or unreachable addresses raise :class:`~sgr_kernel.errors.ClusterConnectError`: one line.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sgr_kernel import _cli_output as cb
from sgr_kernel.dispatch.cluster import check_address
from sgr_kernel.errors import ClusterConnectError

__all__ = ["add_commands"]


def _settings(args: argparse.Namespace) -> Any:
    from sgr_kernel.dispatch.config import load_dispatch_settings

    return load_dispatch_settings()


def _client(args: argparse.Namespace, address: str | None = None) -> Any:
    from sgr_kernel.dispatch._dask_connect import connect

    settings = _settings(args)
    address = address or getattr(args, "address", None) or settings.address
    if not address:
        raise ClusterConnectError(
            "no scheduler address: pass --address tcp://HOST:PORT or set SGR_DASK_ADDRESS"
        )
    check_address(address, settings.connect_timeout_s)
    client, _ = connect(settings, address)
    return client


def cmd_worker(args: argparse.Namespace) -> int:
    from sgr_kernel.dispatch._dask_connect import apply_dask_settings

    settings = _settings(args)
    try:
        check_address(args.scheduler, settings.connect_timeout_s)
    except ClusterConnectError:
        if args.wait <= 0:
            raise
        cb.err(
            f"sgr worker: nothing answers at {args.scheduler} yet; waiting up to {args.wait:g} s"
        )
        check_address(args.scheduler, settings.connect_timeout_s, wait_s=args.wait)
    apply_dask_settings(settings)
    from distributed.cli.dask_worker import main as dask_worker

    argv = [args.scheduler, "--nworkers", str(args.nworkers), "--no-dashboard"]
    if args.nthreads:
        argv += ["--nthreads", str(args.nthreads)]
    if args.name:
        argv += ["--name", args.name]
    if args.resources:
        argv += ["--resources", args.resources.replace(",", " ")]
    if args.memory_limit:
        argv += ["--memory-limit", args.memory_limit]
    dask_worker.main(args=argv, prog_name="sgr worker", standalone_mode=False)
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    from sgr_kernel.dispatch.cluster import cancel_jobs, cluster_view, render_text

    action, rest = args.action, list(args.args)
    if action == "image":
        return _image(args)
    if action == "local":
        return _local(args, int(rest[0]) if rest else 2)
    if action == "connect":
        if not rest:
            raise ClusterConnectError("usage: sgr cluster connect tcp://HOST:PORT")
        client = _client(args, rest[0])
        view = cluster_view(client)
        client.close()
        cb.emit(args.json, view.model_dump(), lambda: render_text(view))
        if not args.json:
            cb.out(f"to use it for runs: export SGR_DASK_ADDRESS={rest[0]}")
        return 0
    client = _client(args)
    try:
        if action == "cancel":
            if not rest:
                raise ClusterConnectError("usage: sgr cluster cancel KEY|RUN_ID")
            keys = cancel_jobs(client, rest[0], grace_s=_settings(args).cancel_grace_s)
            cb.emit(args.json, {"cancelled": keys}, lambda: f"cancelled {len(keys)} job(s)")
            return 0 if keys else 1
        view = cluster_view(client)
        if action == "jobs":
            jobs = [j.model_dump() for j in view.jobs]
            cb.emit(
                args.json, jobs, lambda: "\n".join(render_text(view).splitlines()[1:]) or "no jobs"
            )
        else:
            cb.emit(args.json, view.model_dump(), lambda: render_text(view))
        return 0
    finally:
        client.close()


def _local(args: argparse.Namespace, n: int) -> int:
    from sgr_kernel.dispatch.cluster import start_local

    cluster = start_local(n, port=getattr(args, "port", None) or 0)
    cb.out(f"local cluster: {cluster.scheduler_address} with {n} worker(s); Ctrl-C stops it")
    cb.out(f"export SGR_DASK_ADDRESS={cluster.scheduler_address}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close()
    return 0


def _skills_folder() -> Path:
    """The installed ``sgr_skills`` package folder, found without importing it: the kernel
    never imports the skills (imports go one way); the image only copies their files."""
    spec = importlib.util.find_spec("sgr_skills")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("sgr_skills is not installed here: pip install 'sgr-jupyter[heavy]'")
    return Path(next(iter(spec.submodule_search_locations)))


def _image(args: argparse.Namespace) -> int:
    from sgr_kernel.dispatch.worker_image import build_worker_image
    from sgr_kernel.errors import SandboxUnavailable
    from sgr_kernel.sandbox._client import connect, default_image, require_image

    try:
        docker = connect(timeout=60)
        require_image(docker, default_image())
        skills = _skills_folder() if getattr(args, "with_skills", False) else None
        tag = build_worker_image(docker, base=default_image(), skills=skills)
    except (SandboxUnavailable, RuntimeError) as e:
        cb.err(f"sgr: error: cannot build the worker image: {e}")
        return 2
    cb.emit(args.json, {"image": tag}, lambda: f"worker image {tag} (python3.11 entrypoint)")
    return 0


def add_commands(cmd: Callable[[str, str, Callable[..., Any]], argparse.ArgumentParser]) -> None:
    """Add ``worker`` and ``cluster`` to the ``sgr`` parser (``cmd`` makes a sub-command)."""
    w = cmd("worker", "start Dask workers for remote steps", cmd_worker)
    w.add_argument("scheduler", help="scheduler address, tcp://HOST:PORT")
    w.add_argument("--resources", help="e.g. GPU=1 or GPU=1,memory=8e9")
    w.add_argument("--nworkers", type=int, default=1)
    w.add_argument("--nthreads", type=int, default=1)
    w.add_argument("--name", help="worker name (a suffix is added per process)")
    w.add_argument("--memory-limit", help="per worker, e.g. 4GB (default: auto)")
    w.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for the scheduler to come up (default: 60; 0 = not at all)",
    )
    c = cmd(
        "cluster", "show a Dask cluster and its sgr jobs; local, connect, jobs, cancel", cmd_cluster
    )
    c.add_argument(
        "action",
        nargs="?",
        default="show",
        choices=["show", "jobs", "cancel", "connect", "local", "image"],
    )
    c.add_argument("args", nargs="*", help="cancel KEY|RUN; connect ADDR; local N")
    c.add_argument("--address", help="scheduler address (default: SGR_DASK_ADDRESS / config)")
    c.add_argument("--port", type=int, help="for `local`: the scheduler port")
    c.add_argument(
        "--with-skills",
        action="store_true",
        help="for `image`: also carry sgr_skills and the heavy skills' wheels",
    )
