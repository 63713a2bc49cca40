"""T1.9: kills in the ambiguous window between a side effect's intent and its result."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from crash_harness import run_plan_child
from services_for_tests import read_sink
from skills_for_tests import make_kernel, plan_of

from sgr_kernel.models.status import RunStatus, StepStatus

PLAN = plan_of(
    {"id": "idem", "skill": "remote_effect", "capabilities": ["remote"]},
    {"id": "once", "skill": "post_effect", "capabilities": ["network"], "depends_on": ["idem"]},
)
WINDOW = ("effect_intent", "effect_before", "effect_after", "effect_done")


async def _resume(k: Any) -> Any:
    return await (await k.resume("run")).wait()


def test_in_doubt_window(tmp_path: Path) -> None:
    kills = idem_reruns = idem_dupes = prompted = silent = 0
    for point in WINDOW:
        for k_hit in (1, 2):
            home = tmp_path / f"{point}-{k_hit}"
            home.mkdir()
            status = run_plan_child(home, PLAN, f"{point}:{k_hit}")
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            kills += 1
            k = make_kernel(home, pause=True)
            state = k.load("run")
            in_flight = [s for s, st in state.steps.items() if st.open_intents]
            assert len(in_flight) == 1, (point, k_hit, in_flight)
            sid = in_flight[0]
            before = Counter(read_sink(home / "sink.log"))

            result = asyncio.run(_resume(k))
            after = Counter(read_sink(home / "sink.log"))
            if sid == "idem":
                # Idempotent: re-run at once; the dispatcher re-attaches by key, no duplicate.
                idem_reruns += 1
                assert result.status is RunStatus.COMPLETED
                idem_dupes += after["run:idem:1"] - 1
            else:
                # Not idempotent: the step waits for a human; the effect is not repeated.
                assert result.status is RunStatus.PAUSED
                st = k.load("run").steps["once"]
                assert st.status is StepStatus.WAITING_APPROVAL
                assert "in doubt" in (st.reason or "")
                prompted += 1
                silent += after["post:once:e"] - before["post:once:e"]
                k.deny("run", "once", reason="effect already visible downstream")
                assert asyncio.run(_resume(k)).status is RunStatus.FAILED
                assert Counter(read_sink(home / "sink.log")) == after
    print(
        f"FIGURE in-doubt kills={kills} idempotent_reruns={idem_reruns} "
        f"idempotent_duplicates={idem_dupes} "
        f"non_idempotent_prompted={prompted}/{kills - idem_reruns} "
        f"silent_reexec={silent}"
    )
    assert idem_dupes == 0 and silent == 0
    assert prompted == kills - idem_reruns > 0 and idem_reruns > 0
