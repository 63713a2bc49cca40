"""Plans of remote steps, and the exactly-once bookkeeping read back from a run's WAL."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sgr_kernel.models.plan import Plan, parse_plan
from sgr_kernel.testing.jobs import executions
from sgr_kernel.trace.base import Record, RecordType


def remote_plan(jobs: dict[str, dict[str, Any]], *, attempts: int = 1) -> Plan:
    """One independent ``remote_job`` step per entry: ``{step: {job_type, params, …}}``."""
    steps = [
        {
            "id": sid,
            "skill": "remote_job",
            "capabilities": ["remote"],
            "inputs": spec,
            "retry": {"max_attempts": attempts, "backoff_s": 0.0},
        }
        for sid, spec in jobs.items()
    ]
    return parse_plan(json.dumps({"name": "remote", "steps": steps}))


def plan_file(path: Path, jobs: dict[str, dict[str, Any]]) -> Path:
    steps = [
        {"id": sid, "skill": "remote_job", "capabilities": ["remote"], "inputs": spec}
        for sid, spec in jobs.items()
    ]
    path.write_text(json.dumps({"name": "remote", "steps": steps}))
    return path


def commits(records: list[Record]) -> tuple[Counter[str], Counter[str]]:
    """(ok remote results per job key, COMMITTED step records per step)."""
    results: Counter[str] = Counter()
    committed: Counter[str] = Counter()
    for r in records:
        if r.type is RecordType.RESULT and r.data.get("kind") == "remote" and r.data.get("ok"):
            results[str(r.data["key"])] += 1
        if r.type is RecordType.STEP and r.data.get("status") == "COMMITTED":
            committed[str(r.step)] += 1
    return results, committed


def starts(log: Path) -> Counter[str]:
    """How many times each job key started executing on a worker."""
    return Counter(key for key, _, what in executions(log) if what == "start")


def progress_events(records: list[Record], step: str) -> list[dict[str, Any]]:
    return [
        r.data
        for r in records
        if r.type is RecordType.EVENT and r.step == step and r.data.get("kind") == "progress"
    ]


def run_then_close(make_kernel: Callable[[], Any], dispatcher: Any, plan: Plan) -> tuple[Any, Any]:
    """Run ``plan`` on a kernel made inside a fresh event loop, then close ``dispatcher``:
    (kernel, result)."""

    async def go() -> tuple[Any, Any]:
        k = make_kernel()
        try:
            return k, await k.run(plan=plan)
        finally:
            await dispatcher.close()

    return asyncio.run(go())
