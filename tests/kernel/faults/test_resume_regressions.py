"""Regressions found by the crash sweep, each pinned to the crash point that exposed it."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from crash_harness import fork_child, seeded_plan
from skills_for_tests import make_kernel

from sgr_kernel.models.status import RunStatus


def test_resume_after_a_kill_between_run_created_and_planned(tmp_path: Path) -> None:
    # The first durable append is `run_created`; dying right after its fsync leaves a run
    # with a plan and status CREATED. Resume used to end it FAILED with
    # "illegal run transition CREATED -> COMPLETED" after running every step.
    status = fork_child(tmp_path, "run", 11, "run", "after_fsync:1", None)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    k = make_kernel(tmp_path, run=seeded_plan(11)[1], pause=True)
    assert k.load("run").status is RunStatus.CREATED

    async def go() -> RunStatus:
        return (await (await k.resume("run")).wait()).status

    assert asyncio.run(go()) is RunStatus.COMPLETED
