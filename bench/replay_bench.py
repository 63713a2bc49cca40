"""Replay of a 10,000-event trace (target < 1 s) and resume of a ~10,000-record run (< 0.5 s).

A plan holds at most 1,000 steps (``MAX_STEPS``), so the logs are made long the way real ones
are: each step of a 1,000-step chain takes ``VALUES`` values through its context (time and
randomness, each a ``value`` record that replay serves from the log and checks), which with the
step's ``RUNNING`` and ``COMMITTED`` marks gives ~10 records a step.

Replay: the chain recorded with ``durability=none``, then ``ReplayEngine.replay_run`` (strict,
zero live calls) is timed. Resume: the same chain with a final approval gate, paused there; the
time from ``Kernel.resume`` (snapshot + WAL tail + fold + scheduler rebuild) to the run being
parked at the gate again is timed. Baseline in the same run: reading and folding the same WAL
with no engine at all.

Run: ``.venv/bin/python bench/replay_bench.py``. Writes ``bench/results/replay.json``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine_bench import _In, _Out
from pydantic import BaseModel

from sgr_kernel.engine import Kernel, KernelConfig, RunConfig
from sgr_kernel.models.plan import MAX_STEPS, plan_from_data
from sgr_kernel.replay import ReplayEngine
from sgr_kernel.skills.base import Skill, SkillContext
from sgr_kernel.trace.base import Durability
from sgr_kernel.trace.state import RunState

ROUNDS = 3
STEPS = MAX_STEPS
VALUES = 8
OUT = Path(__file__).parent / "results" / "replay.json"


class ValuesSkill(Skill):
    """Takes ``VALUES`` values (time, randomness) through its context: one record each."""

    name = "values"
    description = "Reads the clock and the random source."
    Input = _In
    Output = _Out

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        for _ in range(VALUES // 2):
            ctx.now()
            ctx.random()
        return _Out()


SKILLS: dict[str, type[Skill]] = {"values": ValuesSkill}


def _chain(n: int, gate: bool = False) -> Any:
    steps: list[dict[str, Any]] = [
        {"id": f"n{i}", "skill": "values", "depends_on": [f"n{i - 1}"] if i else []}
        for i in range(n)
    ]
    if gate:
        steps.append(
            {
                "id": "gate",
                "skill": "values",
                "depends_on": [f"n{n - 1}"],
                "requires_approval": True,
            }
        )
    return plan_from_data({"name": "chain", "steps": steps})


def _kernel(home: Path, durability: Durability) -> Kernel:
    cfg = RunConfig(durability=durability, max_concurrency=8)
    return Kernel(
        KernelConfig(home=home, run=cfg, pause_when_waiting=True),
        skills=SKILLS,
        llm=object(),
        sandbox=object(),
        dispatcher=object(),
    )


def bench_replay(tmp: Path) -> dict[str, float]:
    k = _kernel(tmp / "replay", Durability.NONE)
    result = asyncio.run(k.run(plan=_chain(STEPS), run_id="big"))  # 10,004 records
    assert result.ok
    records = list(k.store.read("big").records)
    assert len(records) >= 10_000, len(records)
    engine = ReplayEngine(SKILLS)
    times, fold = [], []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        report = asyncio.run(engine.replay_run(records))
        times.append(time.perf_counter() - t0)
        assert report.ok and not report.divergences, report
        t0 = time.perf_counter()
        RunState.from_records(k.store.read("big").records)
        fold.append(time.perf_counter() - t0)
    return {
        "steps": STEPS,
        "events": len(records),
        "replay_s": round(statistics.median(times), 3),
        "read_and_fold_s": round(statistics.median(fold), 3),
    }


async def _resume(k: Kernel, run_id: str) -> Any:
    return await (await k.resume(run_id)).wait()


def bench_resume(tmp: Path) -> dict[str, float]:
    k = _kernel(tmp / "resume", Durability.NONE)
    # STEPS - 1 steps and the gate: ~10,000 records, paused at the gate.
    paused = asyncio.run(k.run(plan=_chain(STEPS - 1, gate=True), run_id="long"))
    assert paused.status.value == "PAUSED", paused
    times = []
    for _ in range(ROUNDS):
        k2 = _kernel(tmp / "resume", Durability.SYNC)

        t0 = time.perf_counter()
        again = asyncio.run(_resume(k2, "long"))
        times.append(time.perf_counter() - t0)
        assert again.status.value == "PAUSED", again
    records = len(k.store.read("long").records)
    assert records >= 9_990, records
    return {"steps": STEPS, "records": records, "resume_s": round(statistics.median(times), 3)}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        replay = bench_replay(Path(tmp))
        print("replay", replay)
        resume = bench_resume(Path(tmp))
        print("resume", resume)
    metrics = {
        **{f"replay_{k}": v for k, v in replay.items()},
        **{f"resume_{k}": v for k, v in resume.items()},
        "replay_under_1s": replay["replay_s"] < 1.0,
        "resume_under_0_5s": resume["resume_s"] < 0.5,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "bench": "replay",
                "rounds": ROUNDS,
                "metrics": metrics,
                "target": "replay of 10k events < 1 s; resume of a ~10k-record run < 0.5 s",
            },
            indent=2,
        )
        + "\n"
    )
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
