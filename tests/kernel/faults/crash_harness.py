"""The crash-consistency harness (T1.1, T1.2, T1.9): forked children run or resume a plan and
die by SIGKILL; the parent recovers, resumes and checks the invariants.

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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skills_for_tests import SeqEntropy, make_kernel, plan_of, read_sink

from sgr_kernel.engine import RunConfig
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace import _crash
from sgr_kernel.trace.base import Record, RecordType

COUNT_ONLY = "__count__:1"
"""Arms the crash machinery on a name never hit, so every point's hits are counted."""


def seeded_plan(seed: int) -> tuple[Any, RunConfig]:
    """A small random DAG (shape, kinds and concurrency vary with the seed)."""
    rng = random.Random(seed)
    n = rng.randint(5, 8)
    steps: list[dict[str, Any]] = []
    kinds = ["noop", "noop", "flaky", "remote", "post", "ask"]
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


def _child(home: Path, run_id: str, seed: int, mode: str, crash: str | None, acks: Path) -> None:
    """Body of a forked child: start (``run``) or ``resume`` the run, acknowledging commits."""
    _crash.arm(crash)
    plan, cfg = seeded_plan(seed)
    k = make_kernel(home, run=cfg, pause=True, entropy=SeqEntropy(seed))
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
    acks = home / "acks.log"
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


# ---------------------------------------------------------------- checks


@dataclass
class Final:
    status: RunStatus
    steps: dict[str, StepStatus]
    outputs: dict[str, Any]


@dataclass
class Tally:
    trials: int = 0
    acked: int = 0
    acknowledged_lost: int = 0
    rerun_acked: int = 0
    state_mismatch: int = 0
    not_prefix: int = 0
    unrecoverable: int = 0
    duplicate_effects: int = 0
    in_doubt_prompted: int = 0
    silent_reexec: int = 0
    idempotent_reruns: int = 0
    torn_tails: int = 0
    never_started: int = 0
    problems: list[str] = field(default_factory=list)

    def bad(self, what: str, detail: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        if len(self.problems) < 20:
            self.problems.append(f"{what}: {detail}")


def read_acks(home: Path) -> tuple[bool, dict[str, Any]]:
    started, steps = False, {}
    try:
        lines = (home / "acks.log").read_text().splitlines()
    except FileNotFoundError:
        return False, {}
    for line in lines:
        if line == "started":
            started = True
        elif line.startswith("step "):
            _, sid, out = line.split(" ", 2)
            steps[sid] = json.loads(out)
    return started, steps


def final_of(k: Any, run_id: str) -> Final:
    st = k.load(run_id)
    return Final(
        status=st.status,
        steps={sid: s.status for sid, s in st.steps.items()},
        outputs={sid: s.output for sid, s in st.steps.items() if s.status is StepStatus.COMMITTED},
    )


def reference(root: Path, seed: int) -> tuple[Final, dict[str, int], float]:
    """An uninterrupted run of the seed's plan: final state, crash-point hits, wall time."""
    home = root / f"ref-{seed}"
    home.mkdir(parents=True)
    t0 = time.monotonic()
    status = fork_child(home, "run", seed, "run", COUNT_ONLY, None)
    wall = time.monotonic() - t0
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    k = make_kernel(home, run=seeded_plan(seed)[1])
    hits = json.loads((home / "hits.json").read_text())
    return final_of(k, "run"), hits, wall


def resume_to_end(k: Any, run_id: str, sink: Path, tally: Tally) -> None:
    """Resume in this process; an in-doubt non-idempotent step must be waiting for a human
    (never silently re-executed) — approve it and go on."""
    for _ in range(5):
        before = Counter(read_sink(sink))
        waited = {
            sid
            for sid, st in k.load(run_id).steps.items()
            if st.status is StepStatus.WAITING_APPROVAL
        }

        async def go() -> Any:
            return await (await k.resume(run_id)).wait()

        result = asyncio.run(go())
        if result.status is not RunStatus.PAUSED:
            return
        state = k.load(run_id)
        waiting = [s for s, st in state.steps.items() if st.status is StepStatus.WAITING_APPROVAL]
        for sid in waiting:
            skill = state.plan.step(sid).skill if state.plan else "?"
            if skill != "post_effect":
                tally.bad("state_mismatch", f"{run_id}: {sid} ({skill}) waits for approval")
            key = f"post:{sid}:e"
            if sid not in waited and Counter(read_sink(sink))[key] != before[key]:
                # The effect of a step that was in doubt must not happen again unasked.
                tally.bad("silent_reexec", f"{run_id}: {sid} re-executed ({key}) before approval")
            tally.in_doubt_prompted += 1
            k.approve(run_id, sid, by="harness")
    tally.bad("unrecoverable", f"{run_id}: still paused after 5 resumes")


def check_trial(
    home: Path, run_id: str, seed: int, ref: Final, tally: Tally, *, torn: bool = False
) -> None:
    """Recover and resume in this process, then check every invariant against ``ref``."""
    from sgr_kernel.errors import SgrError

    tally.trials += 1
    plan, cfg = seeded_plan(seed)
    k = make_kernel(home, run=cfg, pause=True, entropy=SeqEntropy(seed))
    sink = home / "sink.log"
    started, acked = read_acks(home)
    tally.acked += len(acked)
    if not k.store.exists(run_id) or not k.store.read(run_id).records:
        # The start was never durable, so never acknowledged: the caller starts again.
        if started:
            tally.bad("acknowledged_lost", f"{run_id}: acknowledged start vanished")
        tally.never_started += 1
        run_id = run_id + "-retry"

        async def restart() -> Any:
            return await k.run(plan=plan, run_id=run_id, config=cfg)

        asyncio.run(restart())
        return _compare(k, run_id, ref, {}, (), sink, tally)
    try:
        log = k.store.read(run_id)
        if log.report.torn_tail:
            tally.torn_tails += 1
        prefix = log.records
        state = k.load(run_id)
    except SgrError as e:
        tally.bad("unrecoverable", f"{run_id}: {type(e).__name__}: {e}")
        return None
    for sid, out in acked.items():
        st = state.steps.get(sid)
        if st is None or st.status is not StepStatus.COMMITTED or st.output != out:
            tally.bad("acknowledged_lost", f"{run_id}: step {sid} acked, found {st}")
    if not state.status.terminal:
        try:
            resume_to_end(k, run_id, sink, tally)
        except SgrError as e:
            tally.bad("unrecoverable", f"{run_id}: resume: {type(e).__name__}: {e}")
            return None
    return _compare(k, run_id, ref, acked, prefix, sink, tally)


def _compare(
    k: Any,
    run_id: str,
    ref: Final,
    acked: dict[str, Any],
    prefix: tuple[Record, ...],
    sink: Path,
    tally: Tally,
) -> None:
    records = k.store.read(run_id).records
    if [(r.seq, r.crc) for r in records[: len(prefix)]] != [(r.seq, r.crc) for r in prefix]:
        tally.bad("not_prefix", f"{run_id}: the recovered log is not a prefix of the final one")
    if [r.seq for r in records] != list(range(len(records))):
        tally.bad("not_prefix", f"{run_id}: sequence numbers have gaps")
    got = final_of(k, run_id)
    if (got.status, got.steps, got.outputs) != (ref.status, ref.steps, ref.outputs):
        diff = {
            s: (got.steps.get(s), ref.steps.get(s))
            for s in ref.steps
            if got.steps.get(s) != ref.steps[s]
        }
        why = k.load(run_id).reason
        tally.bad(
            "state_mismatch", f"{sink.parent.name}: {got.status} ({why}) vs {ref.status}; {diff}"
        )
    for sid in acked:
        seen_commit, rerun = False, False
        for r in records:
            if r.step == sid and r.type is RecordType.STEP:
                rerun |= seen_commit and r.data["status"] == "RUNNING"
                seen_commit |= r.data["status"] == "COMMITTED"
        if rerun:
            tally.bad("rerun_acked", f"{run_id}: acknowledged step {sid} ran again")
    effects = Counter(read_sink(sink))
    for key, n in effects.items():
        if not key.startswith("post:") and n > 1:  # keyed (idempotent) effects: at most once
            tally.bad("duplicate_effects", f"{run_id}: {key} happened {n} times")
    state = k.load(run_id)
    for sid, st in state.steps.items():
        if st.status is not StepStatus.COMMITTED or state.plan is None:
            continue
        skill = state.plan.step(sid).skill
        if skill == "remote_effect" and effects[f"{run_id}:{sid}:1"] != 1:
            tally.bad("duplicate_effects", f"{run_id}: {sid} effects {effects}")
        if skill == "remote_effect" and st.attempt > 1:
            tally.idempotent_reruns += 1
