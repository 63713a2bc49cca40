"""Instructions per engine step, counted by callgrind: a figure other load cannot move.

Wall time on a shared VM swings by a third between runs of the same tree, which hides the
5–10 % a hot-path change is worth. Valgrind counts the instructions the interpreter executes
(``Ir``), the same on every run of the same tree, so two trees compare exactly. It misses what
instructions do not show (cache misses, system calls, waiting), so confirm a change that
matters in wall time with ``engine_bench.py`` as well.

Each figure is ``(Ir of N+1 runs − Ir of 1 run) / (N × steps)``: imports, the first run's warm-up
and interpreter start cancel out. ``--part create`` counts only creating the run
(``Kernel.start``, then a cancel before the first step runs).

Run: ``.venv/bin/python bench/instructions.py [--runs N] [--out PATH]`` (needs ``valgrind``:
``apt-get install valgrind``; ~1 minute). Writes ``bench/results/engine_instructions.json``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "engine_instructions.json"
SHAPES = ("chain", "fanout")


def _workload(shape: str, runs: int, part: str) -> None:
    """The child's side: 1 + ``runs`` runs of the engine bench's ``none`` workload."""
    sys.path.insert(0, str(HERE))
    import engine_bench as eb

    from sgr_kernel.engine import Kernel, KernelConfig, RunConfig
    from sgr_kernel.trace.base import Durability

    plan = eb.plan(shape)  # built once: plan parsing is not the engine's work
    gc.disable()  # a collection lands at different places in different trees

    def one() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = RunConfig(durability=Durability.NONE, max_concurrency=64, snapshot_every=10_000)
            k = Kernel(
                KernelConfig(home=Path(tmp), run=cfg),
                skills={"noop": eb.NoopSkill},
                llm=object(),
                sandbox=object(),
                dispatcher=object(),
            )

            async def go() -> None:
                if part == "run":
                    await k.run(plan=plan)
                    return
                handle = await k.start(plan=plan)
                assert handle.task is not None
                handle.task.cancel()
                await asyncio.gather(handle.task, return_exceptions=True)

            asyncio.run(go())

    for _ in range(1 + runs):
        one()


def _count(shape: str, runs: int, part: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={tmp}/cg.out",
            sys.executable,
            __file__,
            "--child",
            shape,
            str(runs),
            part,
        ]
        got = subprocess.run(cmd, capture_output=True, text=True, check=True)
    m = re.search(r"Collected : (\d+)", got.stderr)
    if m is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{got.stderr[-2000:]}")
    return int(m.group(1))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        _workload(argv[1], int(argv[2]), argv[3])
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 2
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else OUT
    steps = 1000
    rows: dict[str, dict[str, int]] = {}
    for shape in SHAPES:
        rows[shape] = {}
        for part in ("run", "create"):
            base, more = _count(shape, 0, part), _count(shape, runs, part)
            rows[shape][part] = round((more - base) / (runs * steps))
        rows[shape]["steps"] = rows[shape]["run"] - rows[shape]["create"]
        print(shape, "  ".join(f"{k}={v:,} Ir/step" for k, v in rows[shape].items()), flush=True)
    result: dict[str, Any] = {
        "bench": "engine_instructions",
        "steps": steps,
        "runs": runs,
        "python": platform.python_version(),
        "unit": "instructions (callgrind Ir) per step, durability none",
        "metrics": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
