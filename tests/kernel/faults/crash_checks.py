"""The checks of the crash-consistency harness: a reference run, resuming a killed run to its
end (approving the in-doubt steps it stops at, sometimes from a child that is killed too), and
the invariants each trial must keep, counted in a :class:`Tally`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crash_harness import COUNT_ONLY, fork_child, kernel_for, read_acks, seeded_plan, sink_file
from services_for_tests import read_sink

from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace import _crash
from sgr_kernel.trace.base import Record, RecordType


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
    ghost_runs: int = 0
    approval_kills: int = 0
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
    approved: Counter[str] = field(default_factory=Counter)
    """In-doubt steps a human approved to run again, per ``run:step``."""

    def bad(self, what: str, detail: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        if len(self.problems) < 20:
            self.problems.append(f"{what}: {detail}")


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
    status = fork_child(home, "run", seed, "run", COUNT_ONLY, None)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    walls = []  # the first child pays for lazy imports: time a few plain runs instead
    for i in range(3):
        timed = root / f"ref-{seed}-timed-{i}"
        timed.mkdir()
        t0 = time.monotonic()
        fork_child(timed, "run", seed, "run", None, None)
        walls.append(time.monotonic() - t0)
    wall = sorted(walls)[1]
    k = kernel_for(home, "run", seed)
    hits = json.loads((home / "hits.json").read_text())
    return final_of(k, "run"), hits, wall


APPROVAL_KILLS = ("before_write:1", "after_write:1", "after_fsync:1", "after_write:4")
"""Where an approving child dies: before/after its approval record, or in the resume after."""


def _approve_in_child(home: Path, run_id: str, seed: int, sid: str, crash: str) -> int:
    """``sgr approve`` in another process, killed at ``crash``: the decision, then a resume."""
    pid = os.fork()
    if pid == 0:
        try:
            _crash.arm(crash)
            k = kernel_for(home, run_id, seed)
            k.approve(run_id, sid, by="child")

            async def go() -> None:
                await (await k.resume(run_id)).wait()

            asyncio.run(go())
        finally:
            os._exit(0)
    return os.waitpid(pid, 0)[1]


def resume_to_end(
    home: Path, run_id: str, seed: int, tally: Tally, *, kill_approvals: bool
) -> None:
    """Resume in this process; a step may wait for a human only when one of its effects is
    in doubt (intent logged, no result) — approve it (sometimes from a child that is killed
    on the way) and go on."""
    sink = sink_file(home, run_id)
    for _ in range(8):
        k = kernel_for(home, run_id, seed)
        state = k.load(run_id)
        if state.status.terminal:
            return
        before = Counter(read_sink(sink))
        waited = {
            sid for sid, st in state.steps.items() if st.status is StepStatus.WAITING_APPROVAL
        }

        async def go(k: Any = k) -> Any:
            return await (await k.resume(run_id)).wait()

        result = asyncio.run(go())
        if result.status is not RunStatus.PAUSED:
            return
        state = k.load(run_id)
        waiting = [s for s, st in state.steps.items() if st.status is StepStatus.WAITING_APPROVAL]
        for sid in waiting:
            skill = state.plan.step(sid).skill if state.plan else "?"
            if skill not in ("post_effect", "post_twice"):
                tally.bad("state_mismatch", f"{run_id}: {sid} ({skill}) waits for approval")
            st = state.steps[sid]
            if not any(c.open for c in st.calls.values()):
                tally.bad("state_mismatch", f"{run_id}: {sid} waits with no effect in doubt")
            mine = [key for key in before if key.startswith(f"post:{sid}:")]
            if sid not in waited and any(
                Counter(read_sink(sink))[key] != before[key] for key in mine
            ):
                # The effect of a step that was in doubt must not happen again unasked.
                tally.bad("silent_reexec", f"{run_id}: {sid} re-executed before approval")
            tally.in_doubt_prompted += 1
            tally.approved[f"{home.name}/{run_id}:{sid}"] += 1
            if kill_approvals and st.approval is None:
                crash = APPROVAL_KILLS[tally.approval_kills % len(APPROVAL_KILLS)]
                status = _approve_in_child(home, run_id, seed, sid, crash)
                tally.approval_kills += os.WIFSIGNALED(status)
                k = kernel_for(home, run_id, seed)
            st2 = k.load(run_id).steps[sid]
            if st2.status is StepStatus.WAITING_APPROVAL and st2.approval is None:
                k.approve(run_id, sid, by="harness")
    tally.bad("unrecoverable", f"{run_id}: still paused after 8 resumes")


def check_ghost(home: Path, run_id: str, seed: int, tally: Tally) -> None:
    """A run whose ``run_created`` never became durable must be invisible and refused."""
    from sgr_kernel.errors import RunNotCreatedError

    k = kernel_for(home, run_id, seed)
    if any(s.run_id in ("", run_id) for s in k.runs()):
        tally.bad("ghost_runs", f"{run_id}: listed though never created")

    async def go() -> Any:
        return await (await k.resume(run_id)).wait()

    try:
        asyncio.run(go())
        tally.bad("ghost_runs", f"{run_id}: a run that was never created was resumed")
    except RunNotCreatedError:
        pass
    if read_sink(sink_file(home, run_id)):
        tally.bad("ghost_runs", f"{run_id}: a run that was never created did something")


def check_trial(
    home: Path,
    run_id: str,
    seed: int,
    ref: Final,
    tally: Tally,
    *,
    kill_approvals: bool = False,
) -> None:
    """Recover and resume in this process, then check every invariant against ``ref``."""
    from sgr_kernel.errors import SgrError

    tally.trials += 1
    plan, cfg = seeded_plan(seed)
    k = kernel_for(home, run_id, seed)
    started, acked = read_acks(home, run_id)
    tally.acked += len(acked)
    created = k.store.exists(run_id) and any(
        r.type is RecordType.RUN_CREATED for r in k.store.read(run_id).records
    )
    if not created:
        # The start was never durable, so never acknowledged: the caller starts again.
        if started:
            tally.bad("acknowledged_lost", f"{run_id}: acknowledged start vanished")
        if k.store.exists(run_id):
            check_ghost(home, run_id, seed, tally)
        tally.never_started += 1
        retry = run_id + "-retry"

        async def restart() -> Any:
            return await kernel_for(home, retry, seed).run(plan=plan, run_id=retry, config=cfg)

        asyncio.run(restart())
        return _compare(k, home, retry, ref, {}, (), tally)
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
            resume_to_end(home, run_id, seed, tally, kill_approvals=kill_approvals)
        except SgrError as e:
            tally.bad("unrecoverable", f"{run_id}: resume: {type(e).__name__}: {e}")
            return None
    return _compare(k, home, run_id, ref, acked, prefix, tally)


def _compare(
    k: Any,
    home: Path,
    run_id: str,
    ref: Final,
    acked: dict[str, Any],
    prefix: tuple[Record, ...],
    tally: Tally,
) -> None:
    sink = sink_file(home, run_id)
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
        tally.bad("state_mismatch", f"{home.name}: {got.status} ({why}) vs {ref.status}; {diff}")
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
        if not key.startswith("post:"):  # keyed (idempotent) remote effects: at most once
            if n > 1:
                tally.bad("duplicate_effects", f"{run_id}: {key} happened {n} times")
            continue
        # Every effect counts, also one whose result was logged: it may happen again only
        # when a human approved doing an in-doubt one again.
        sid = key.split(":")[1]
        approved = tally.approved[f"{home.name}/{run_id}:{sid}"]
        if n > 1 + approved:
            tally.bad("duplicate_effects", f"{run_id}: {key} happened {n} times")
        if n > 1 and not approved:
            tally.bad("silent_reexec", f"{run_id}: {key} happened {n} times, never approved")
    state = k.load(run_id)
    for sid, st in state.steps.items():
        if st.status is not StepStatus.COMMITTED or state.plan is None:
            continue
        skill = state.plan.step(sid).skill
        if skill == "remote_effect" and effects[f"{run_id}:{sid}:1"] != 1:
            tally.bad("duplicate_effects", f"{run_id}: {sid} effects {effects}")
        if skill == "remote_effect" and st.attempt > 1:
            tally.idempotent_reruns += 1
        posts = [key for key in effects if key.startswith(f"post:{sid}:")]
        want = 2 if skill == "post_twice" else 1 if skill == "post_effect" else 0
        if len(posts) != want:
            tally.bad("acknowledged_lost", f"{run_id}: {sid} committed with effects {posts}")
