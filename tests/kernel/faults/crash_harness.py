"""The crash-consistency harness (T1.1, T1.2, T1.9): forked children run or resume a plan and
die by SIGKILL; the parent recovers, resumes and checks the invariants (``crash_checks``).

Children are forked from the already-imported test process (milliseconds, not a fresh
interpreter per kill), arm ``SGR_CRASH_AT`` through ``_crash.arm`` and report every
acknowledged step — a COMMITTED record handed to listeners, which happens only after its
sync — to an O_APPEND file before the run goes on. A kill cannot lose a line already written.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

from services_for_tests import SeqEntropy
from skills_for_tests import make_kernel, plan_of

from sgr_kernel.engine import RunConfig
from sgr_kernel.trace import _crash
from sgr_kernel.trace.base import Record, RecordType

COUNT_ONLY = "__count__:1"
"""Arms the crash machinery on a name never hit, so every point's hits are counted."""


def seeded_plan(seed: int) -> tuple[Any, RunConfig]:
    """A small random DAG (shape, kinds and concurrency vary with the seed)."""
    rng = random.Random(seed)
    n = rng.randint(5, 8)
    steps: list[dict[str, Any]] = []
    kinds = ["noop", "noop", "flaky", "remote", "post", "post2", "ask"]
    forced = ["remote", "post"]  # every plan has both kinds of side effect
    for i in range(n):
        kind = forced.pop() if forced and rng.random() < 0.5 else rng.choice(kinds)
        step: dict[str, Any] = {"id": f"s{i}", "skill": "noop", "inputs": {"x": i}}
        for p in sorted(rng.sample(range(i), min(i, rng.randint(0, 2)))):
            step["inputs"][f"in{p}"] = {"$ref": f"s{p}.output.value"} if _valued(steps[p]) else 0
            step.setdefault("depends_on", []).append(f"s{p}")
        if kind == "flaky":
            step.update(skill="flaky", retry={"max_attempts": 3, "backoff_s": 0.0})
        elif kind == "remote":
            step.update(skill="remote_effect", capabilities=["remote"])
        elif kind == "post":
            step.update(skill="post_effect", capabilities=["network"])
        elif kind == "post2":
            step.update(skill="post_twice", capabilities=["network"])
        elif kind == "ask":
            step["skill"] = "ask"
            step["inputs"] = {"question": f"q{i}", "depends": list(step["inputs"].values())[1:]}
            step["inputs"]["depends"] = [v for v in step["inputs"]["depends"] if v != 0]
        steps.append(step)
    for kind in forced:
        skill, cap = ("remote_effect", "remote") if kind == "remote" else ("post_effect", "network")
        steps.append({"id": f"s{len(steps)}", "skill": skill, "capabilities": [cap]})
    cfg = RunConfig(max_concurrency=rng.choice([1, 2, 4]), snapshot_every=4)
    return plan_of(*steps), cfg


def _valued(step: dict[str, Any]) -> bool:
    return step["skill"] != "ask"


# ---------------------------------------------------------------- children


def acks_file(home: Path, run_id: str) -> Path:
    return home / f"acks-{run_id}.log"


def _child(home: Path, run_id: str, seed: int, mode: str, crash: str | None, acks: Path) -> None:
    """Body of a forked child: start (``run``) or ``resume`` the run, acknowledging commits."""
    _crash.arm(crash)
    plan, _ = seeded_plan(seed)
    k = kernel_for(home, run_id, seed)
    fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def ack(line: str) -> None:
        os.write(fd, (line + "\n").encode())

    def listener(rec: Record) -> None:
        if rec.type is RecordType.STEP and rec.data.get("status") == "COMMITTED":
            ack(f"step {rec.step} {json.dumps(rec.data.get('output'), sort_keys=True)}")

    async def go() -> None:
        if mode == "run":
            handle = await k.start(plan=plan, run_id=run_id)
            ack("started")
        else:
            handle = await k.resume(run_id)
        handle.subscribe(listener)
        result = await handle.wait()
        ack(f"done {result.status.value}")

    asyncio.run(go())
    if crash == COUNT_ONLY:
        (home / "hits.json").write_text(json.dumps(_crash.hits()))


def fork_child(
    home: Path, run_id: str, seed: int, mode: str, crash: str | None, kill_after: float | None
) -> int:
    """Fork a child; with ``kill_after`` the parent SIGKILLs it after that many seconds.
    Returns the raw wait status."""
    acks = acks_file(home, run_id)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _child(home, run_id, seed, mode, crash, acks)
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    if kill_after is not None:
        deadline = time.monotonic() + kill_after
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            time.sleep(min(0.0005, max(0.0, deadline - time.monotonic())))
        os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def run_plan_child(home: Path, plan: Any, crash: str) -> int:
    """Run ``plan`` as run ``"run"`` (one step at a time) in a forked child armed to crash at
    ``crash``; returns the raw wait status."""
    pid = os.fork()
    if pid == 0:
        try:
            _crash.arm(crash)
            k = make_kernel(home, run=RunConfig(max_concurrency=1))
            asyncio.run(k.run(plan=plan, run_id="run"))
        finally:
            os._exit(0)
    return os.waitpid(pid, 0)[1]


# ---------------------------------------------------------------- reading what a child left


def read_acks(home: Path, run_id: str = "run") -> tuple[bool, dict[str, Any]]:
    started, steps = False, {}
    try:
        lines = acks_file(home, run_id).read_text().splitlines()
    except FileNotFoundError:
        return False, {}
    for line in lines:
        if line == "started":
            started = True
        elif line.startswith("step "):
            _, sid, out = line.split(" ", 2)
            steps[sid] = json.loads(out)
    return started, steps


def sink_file(home: Path, run_id: str) -> Path:
    return home / f"sink-{run_id}.log"


def kernel_for(home: Path, run_id: str, seed: int) -> Any:
    return make_kernel(
        home,
        run=seeded_plan(seed)[1],
        pause=True,
        entropy=SeqEntropy(seed),
        sink=sink_file(home, run_id),
    )
