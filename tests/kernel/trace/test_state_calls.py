"""The fold keeps the calls of a step's current attempt until it ends, and a snapshot carries
them exactly (a resumed attempt is served from them)."""

from __future__ import annotations

from typing import Any

from sgr_kernel.trace.base import Record, RecordType
from sgr_kernel.trace.state import RunState


def _rec(seq: int, t: RecordType, step: str | None = "s", **data: Any) -> Record:
    return Record(seq=seq, ts=float(seq), type=t, step=step, data=data)


def _log(*, ended: str | None) -> list[Record]:
    recs = [
        _rec(0, RecordType.STEP, status="READY", attempt=0),
        _rec(1, RecordType.STEP, status="RUNNING", attempt=1),
        _rec(2, RecordType.VALUE, attempt=1, n=1, kind="random", value=0.0),
        _rec(3, RecordType.VALUE, attempt=1, n=2, kind="id", value=""),
        _rec(4, RecordType.INTENT, attempt=1, n=3, kind="sandbox", key="k3", request={"code": ""}),
        _rec(5, RecordType.RESULT, attempt=1, n=3, kind="sandbox", key="k3", ok=True, response={}),
        _rec(6, RecordType.INTENT, attempt=1, n=4, kind="http", key="k4", request={"m": "POST"}),
    ]
    if ended == "COMMITTED":
        recs.append(_rec(7, RecordType.STEP, status="COMMITTED", attempt=1, output={}))
    elif ended == "RETRY_WAIT":
        recs.append(_rec(7, RecordType.STEP, status="RETRY_WAIT", attempt=1, failure=_failure()))
    return recs


def _failure() -> dict[str, Any]:
    return {"type": "SkillFailed", "message": "boom", "retryable": True, "attempt": 1}


def test_calls_of_a_running_attempt_survive_a_snapshot_exactly() -> None:
    state = RunState.from_records(_log(ended=None))
    calls = state.steps["s"].calls
    assert [c.n for c in calls.values()] == [1, 2, 3, 4]
    assert calls[1].value == 0.0 and calls[2].value == "" and calls[2].is_value
    assert not calls[3].open and calls[4].open
    again = RunState.load(state.dump())
    assert again.steps["s"].calls == calls


def test_an_outcome_empties_the_calls() -> None:
    for ended in ("COMMITTED", "RETRY_WAIT"):
        assert RunState.from_records(_log(ended=ended)).steps["s"].calls == {}


def test_an_interruption_keeps_them() -> None:
    recs = [*_log(ended=None), _rec(7, RecordType.STEP, status="RETRY_WAIT", attempt=1)]
    assert len(RunState.from_records(recs).steps["s"].calls) == 4
