"""The journal calls its checkpoint hook only from the seq the hook asked for: a run still
snapshots after every ``snapshot_every`` records, and resumes from those snapshots."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from services_for_tests import TickClock
from skills_for_tests import make_kernel, plan_of

from sgr_kernel.engine import RunConfig
from sgr_kernel.engine.journal import MemoryWriter, RunJournal
from sgr_kernel.engine.kernel import Kernel
from sgr_kernel.models.status import RunStatus
from sgr_kernel.trace.base import RecordType
from sgr_kernel.trace.checkpoint import CheckpointManager
from sgr_kernel.trace.state import RunState


def test_the_hook_is_called_from_the_seq_it_returns() -> None:
    seen: list[int] = []

    def hook(state: RunState, seq: int, crc: int | None) -> int:
        seen.append(seq)
        return seq + 3

    journal = RunJournal(MemoryWriter("r1"), RunState(), TickClock(), checkpoint=hook)
    for i in range(10):
        journal.append(RecordType.USAGE, {"tokens": i})
    assert seen == [0, 3, 6, 9]


@pytest.mark.parametrize("every", [1, 4, 7])
def test_a_run_snapshots_after_every_n_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: int
) -> None:
    taken: list[int] = []
    real = CheckpointManager._snapshot

    def spy(self: Any, run_id: str, state: Any, seq: int, crc: int | None) -> None:
        taken.append(seq)
        real(self, run_id, state, seq, crc)

    monkeypatch.setattr(CheckpointManager, "_snapshot", spy)
    k: Kernel = make_kernel(tmp_path, run=RunConfig(snapshot_every=every))
    steps = [
        {"id": f"s{i}", "skill": "noop", "depends_on": [f"s{i - 1}"] if i else []}
        for i in range(15)
    ]
    result = asyncio.run(k.run(plan=plan_of(*steps)))
    assert result.ok
    last = k.load(result.run_id).last_seq
    assert taken == list(range(every - 1, last + 1, every))
    # What a reader restores from the newest snapshot is what the whole log folds to.
    restored = k.checkpoints.load(result.run_id)
    assert restored.status is RunStatus.COMPLETED
    assert restored.dump() == RunState.from_records(k.store.read(result.run_id).records).dump()
