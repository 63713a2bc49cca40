"""Shared by the heavy-skill kill tests: a run on a LocalCluster whose job's worker is SIGKILLed,
and what to read back from the run (its job key, its artifact store)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

from dask_procs import WorkerKiller, executions_seen, progressing

from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.trace.base import Record, RecordType


def run_killing_its_worker(
    tmp: Path, plan: Any, min_reports: int, **kernel_kw: Any
) -> tuple[Kernel, Any, int, int, int]:
    """Run ``plan`` on a 2-worker LocalCluster, SIGKILLing the worker of its job once that has
    reported ``min_reports`` times: (kernel, result, kills, executions of the job, job
    directories left in the workers' temporary folder)."""
    from sgr_kernel.dispatch.config import load_dispatch_settings
    from sgr_kernel.dispatch.dask import DaskDispatcher

    workers_tmp = tmp / "workers-tmp"  # the worker processes inherit it
    workers_tmp.mkdir()
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(workers_tmp)
    try:
        d = DaskDispatcher(
            settings=load_dispatch_settings(env={}, allowed_failures=3, local_workers=2)
        )
        client = d.connect()
    finally:
        if saved is None:
            os.environ.pop("TMPDIR")
        else:
            os.environ["TMPDIR"] = saved
    box: dict[str, Any] = {}

    async def go() -> tuple[Kernel, Any]:
        k = Kernel(KernelConfig(home=tmp / "home"), dispatcher=d, **kernel_kw)
        try:
            res = await k.run(plan=plan)
            box["executions"] = executions_seen(
                client, remote_key(k.store.read(res.run_id).records)
            )
            return k, res
        finally:
            await d.close()

    with WorkerKiller(progressing(client, min_reports=min_reports)) as killer:
        k, res = asyncio.run(go())
    leftovers = len(list(workers_tmp.glob("sgr-job-*")))
    return k, res, len(killer.killed), box["executions"], leftovers


def remote_key(records: list[Record]) -> str:
    [key] = {
        str(r.data["key"])
        for r in records
        if r.type is RecordType.INTENT and r.data.get("kind") == "remote"
    }
    return key


def artifact_check(home: Path, run_id: str, refs: list[dict[str, Any]]) -> tuple[int, int]:
    """(files in the run's artifact store, problems: a file not named by its content's hash,
    a file no output refers to, a reference with no file, a name referred to twice)."""
    folder = home / "runs" / run_id / "artifacts"
    files = sorted(p for p in folder.iterdir()) if folder.is_dir() else []
    problems = sum(1 for p in files if hashlib.sha256(p.read_bytes()).hexdigest() != p.name)
    shas = {r["sha256"] for r in refs}
    problems += len({p.name for p in files} ^ shas)
    problems += len(refs) - len({r["name"] for r in refs})
    return len(files), problems
