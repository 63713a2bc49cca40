"""T1.1 / T1.2 / T1.9: kill -9 at every numbered point of the write path, at random times and
during recovery; the parent resumes and checks that nothing acknowledged is lost or redone,
the log is a valid prefix, and the run ends as an uninterrupted one does."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path
from typing import Any

import pytest
from crash_checks import Tally, check_trial, reference
from crash_harness import fork_child, read_acks
from skills_for_tests import EFFECT_CRASH_POINTS

from sgr_kernel.trace._crash import TRACE_CRASH_POINTS

SEEDS = (11, 12, 13, 14, 15)
FAST = os.environ.get("SGR_FAST_FAULTS") == "1"
"""A quick sweep while developing; ``make test`` (and CI) run the full one."""
RANDOM_KILLS = 120 if FAST else 600
KILL_TARGET = 1000
MAX_RANDOM = 3000
CONCURRENT_PAIRS = 20 if FAST else 120
RECOVERY_POINTS = ("recover_moved_aside", "recover_truncated")
REQUIRED_POINTS = (
    *(p for p in TRACE_CRASH_POINTS if p not in RECOVERY_POINTS),
    "effect_intent",
    "effect_done",
    "effect_recorded",
    *EFFECT_CRASH_POINTS,
)
"""At least these; any other point a run hits (the engine adds its own) is swept too."""
TORN = b'{"seq":999,"type":"step","da'  # a record cut short by the crash


def _ks(hits: int) -> list[int]:
    """Which hits of a point to crash at: the first few, spread through the middle, the last."""
    picks = {1, 2, hits // 3, 2 * hits // 3, hits}
    return sorted(k for k in picks if 1 <= k <= hits)


def _tear(home: Path, run_id: str) -> None:
    with open(home / "runs" / run_id / "wal.jsonl", "ab") as f:
        f.write(TORN)


def _assert_clean(t: Tally) -> None:
    assert t.problems == [], "\n".join(t.problems)
    for what in (
        "acknowledged_lost",
        "rerun_acked",
        "state_mismatch",
        "not_prefix",
        "unrecoverable",
        "duplicate_effects",
        "silent_reexec",
        "ghost_runs",
    ):
        assert getattr(t, what) == 0, what


@pytest.mark.slow
def test_crash_at_every_point_and_at_random_times(tmp_path: Path) -> None:
    t = Tally()
    refs = {seed: reference(tmp_path, seed) for seed in SEEDS}
    n = 0
    reached: set[str] = set()
    killed = 0
    # T1.1: every write-path point x k x seed.
    points = sorted({p for _, hits, _ in refs.values() for p in hits} | set(REQUIRED_POINTS))
    for seed, (ref, hits, _) in refs.items():
        for point in points:
            for k in _ks(hits.get(point, 0)):
                n += 1
                home = tmp_path / f"t{n}"
                home.mkdir()
                status = fork_child(home, "run", seed, "run", f"{point}:{k}", None)
                if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
                    killed += 1
                    reached.add(point)
                if n % 3 == 0 and read_acks(home)[0]:
                    # Crash during recovery: a torn tail, and the recovering child dies.
                    _tear(home, "run")
                    point2 = RECOVERY_POINTS[n % 2]
                    status = fork_child(home, "run", seed, "resume", f"{point2}:1", None)
                    killed += os.WIFSIGNALED(status)
                    reached.add(point2)
                check_trial(home, "run", seed, ref, t)
    # Runs side by side in one store, each process killed at its own random instant.
    point_kills = killed
    rng = random.Random(2024)
    concurrent_kills = 0
    for i in range(CONCURRENT_PAIRS):
        seed_a, seed_b = SEEDS[i % len(SEEDS)], SEEDS[(i + 2) % len(SEEDS)]
        n += 1
        home = tmp_path / f"t{n}"
        home.mkdir()
        concurrent_kills += _pair(home, seed_a, seed_b, refs, rng)
        check_trial(home, "run", seed_a, refs[seed_a][0], t)
        check_trial(home, "run-b", seed_b, refs[seed_b][0], t, kill_approvals=True)
    # T1.2: SIGKILL at random instants, a quarter of them during recovery; approvals of
    # in-doubt steps from a child that is killed on the way.
    recovery_kills = 0
    # Until the sweep has made KILL_TARGET kills in all (how many instants land inside a run
    # depends on the machine's speed), at least RANDOM_KILLS trials, at most MAX_RANDOM.
    i = 0
    while i < RANDOM_KILLS or (
        not FAST
        and killed + recovery_kills + concurrent_kills + t.approval_kills < KILL_TARGET
        and i < MAX_RANDOM
    ):
        seed = SEEDS[i % len(SEEDS)]
        ref, _, wall = refs[seed]
        n += 1
        home = tmp_path / f"t{n}"
        home.mkdir()
        status = fork_child(home, "run", seed, "run", None, rng.uniform(0, wall * 1.2))
        killed += os.WIFSIGNALED(status)
        if i % 4 == 0 and read_acks(home)[0]:
            if i % 8 == 0:
                _tear(home, "run")
            status = fork_child(home, "run", seed, "resume", None, rng.uniform(0, wall))
            recovery_kills += os.WIFSIGNALED(status)
        check_trial(home, "run", seed, ref, t, kill_approvals=i % 2 == 0)
        i += 1
    kills = killed + recovery_kills + concurrent_kills + t.approval_kills
    print(
        f"FIGURE crash kills={kills} points={len(reached)} seeds={len(SEEDS)} "
        f"point_kills={point_kills} random_trials={i} "
        f"recovery_kills={recovery_kills} concurrent_kills={concurrent_kills} "
        f"approval_kills={t.approval_kills} trials={t.trials} acked_steps={t.acked} "
        f"acknowledged_lost={t.acknowledged_lost} rerun_acked={t.rerun_acked} "
        f"not_prefix={t.not_prefix} unrecoverable={t.unrecoverable} "
        f"state_mismatch={t.state_mismatch} duplicate_effects={t.duplicate_effects} "
        f"in_doubt_prompted={t.in_doubt_prompted} silent_reexec={t.silent_reexec} "
        f"ghost_runs={t.ghost_runs} torn_tails={t.torn_tails} never_started={t.never_started}"
    )
    _assert_clean(t)
    assert reached >= {*points, *RECOVERY_POINTS}, {*points, *RECOVERY_POINTS} - reached
    if not FAST:
        assert kills >= KILL_TARGET, kills


def _pair(home: Path, seed_a: int, seed_b: int, refs: dict[int, Any], rng: random.Random) -> int:
    """Two runs of one store in two processes at once, each SIGKILLed at a random instant."""
    import time

    from crash_harness import _child

    pids = []
    for run_id, seed in (("run", seed_a), ("run-b", seed_b)):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _child(home, run_id, seed, "run", None, home / f"acks-{run_id}.log")
            except BaseException:
                code = 3
            finally:
                os._exit(code)
        pids.append((pid, time.monotonic() + rng.uniform(0, refs[seed][2] * 1.2)))
    kills = 0
    for pid, deadline in pids:
        done, status = os.waitpid(pid, os.WNOHANG)
        while not done and time.monotonic() < deadline:
            time.sleep(0.0005)
            done, status = os.waitpid(pid, os.WNOHANG)
        if not done:
            os.kill(pid, signal.SIGKILL)
            status = os.waitpid(pid, 0)[1]
        kills += os.WIFSIGNALED(status)
    return kills
