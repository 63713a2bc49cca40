"""T1.1 / T1.2 / T1.9: kill -9 at every numbered point of the write path, at random times and
during recovery; the parent resumes and checks that nothing acknowledged is lost or redone,
the log is a valid prefix, and the run ends as an uninterrupted one does."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pytest
from crash_harness import Tally, check_trial, fork_child, read_acks, reference
from skills_for_tests import EFFECT_CRASH_POINTS

from sgr_kernel.trace._crash import TRACE_CRASH_POINTS

SEEDS = (11, 12, 13, 14, 15)
RANDOM_KILLS = 200
RECOVERY_POINTS = ("recover_moved_aside", "recover_truncated")
REQUIRED_POINTS = (
    *(p for p in TRACE_CRASH_POINTS if p not in RECOVERY_POINTS),
    "effect_intent",
    "effect_done",
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
                    fork_child(home, "run", seed, "resume", f"{point2}:1", None)
                    reached.add(point2)
                check_trial(home, "run", seed, ref, t)
    # T1.2: SIGKILL at random instants, a quarter of them during recovery.
    rng = random.Random(2024)
    recovery_kills = 0
    for i in range(RANDOM_KILLS):
        seed = SEEDS[i % len(SEEDS)]
        ref, _, wall = refs[seed]
        n += 1
        home = tmp_path / f"t{n}"
        home.mkdir()
        fork_child(home, "run", seed, "run", None, rng.uniform(0, wall * 1.2))
        if i % 4 == 0 and read_acks(home)[0]:
            if i % 8 == 0:
                _tear(home, "run")
            fork_child(home, "run", seed, "resume", None, rng.uniform(0, wall))
            recovery_kills += 1
        check_trial(home, "run", seed, ref, t)
    print(
        f"FIGURE crash points={len(reached)} seeds={len(SEEDS)} point_kills={killed} "
        f"random_kills={RANDOM_KILLS} recovery_kills={recovery_kills} trials={t.trials} "
        f"acked_steps={t.acked} acknowledged_lost={t.acknowledged_lost} "
        f"rerun_acked={t.rerun_acked} not_prefix={t.not_prefix} "
        f"unrecoverable={t.unrecoverable} state_mismatch={t.state_mismatch} "
        f"duplicate_effects={t.duplicate_effects} in_doubt_prompted={t.in_doubt_prompted} "
        f"silent_reexec={t.silent_reexec} torn_tails={t.torn_tails} "
        f"never_started={t.never_started}"
    )
    _assert_clean(t)
    assert reached >= {*points, *RECOVERY_POINTS}, {*points, *RECOVERY_POINTS} - reached
