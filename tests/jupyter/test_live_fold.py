"""The live half of a RunView's fold, record by record (pure: no kernel, no widget comm)."""

from __future__ import annotations

from typing import Any

from sgr_jupyter._fold import RunFold
from sgr_jupyter._live import STREAM_CAP, phase_of, waiting_reason
from sgr_kernel.trace.base import Record, RecordType

PLAN = {
    "name": "p",
    "steps": [
        {"id": "a", "skill": "format", "inputs": {"template": "x"}},
        {
            "id": "b",
            "skill": "format",
            "inputs": {"template": "${a.output.text}!"},
            "requires_approval": True,
        },
    ],
}


class Log:
    def __init__(self) -> None:
        self.seq = -1
        self.fold = RunFold()

    def add(
        self, type: RecordType, data: dict[str, Any], step: str | None = None, ts: float = 100.0
    ) -> None:
        self.seq += 1
        self.fold.apply(Record(seq=self.seq, ts=ts, type=type, step=step, data=data))

    def live(self, kind: str, step: str | None, ts: float = 101.0, **data: Any) -> None:
        """An event published without being logged: it repeats the last logged seq."""
        rec = Record(
            seq=max(self.seq, 0),
            ts=ts,
            type=RecordType.EVENT,
            step=step,
            data={"kind": kind, **data},
        )
        self.fold.apply(rec)

    def step(self, sid: str, status: str, ts: float = 100.0, **data: Any) -> None:
        self.add(RecordType.STEP, {"status": status, **data}, step=sid, ts=ts)


def _task_log() -> Log:
    log = Log()
    log.add(RecordType.RUN_CREATED, {"run_id": "r1", "name": "t", "task": "do it"}, ts=100.0)
    log.add(RecordType.RUN_STATUS, {"status": "PLANNING"})
    return log


def test_live_events_are_taken_though_they_repeat_the_last_seq() -> None:
    log = _task_log()
    log.step("__plan__", "READY")
    log.step("__plan__", "RUNNING", ts=100.5, attempt=1)
    log.live("token", "__plan__", text='{"steps": ')
    log.live("token", "__plan__", text="[]}")
    fold = log.fold
    assert fold.live.stream == {"__plan__": '{"steps": []}'}
    assert fold.live.started == {"__plan__": 0.5}
    assert phase_of(fold.state) == "PLANNING"
    assert fold.states() == {}  # planning is not one of the user's steps
    assert "stream" in fold.take_dirty()
    log.live("token", "__plan__", text="x" * (STREAM_CAP + 10))
    assert len(fold.live.stream["__plan__"]) == STREAM_CAP  # the tail is kept
    # A logged record at or below the last seq is still a duplicate and ignored.
    before = fold.records
    fold.apply(Record(seq=0, ts=1.0, type=RecordType.RUN_STATUS, data={"status": "FAILED"}))
    assert fold.records == before and fold.state.status.value == "PLANNING"


def test_progress_and_a_new_attempt_reset_its_stream() -> None:
    log = _task_log()
    log.add(RecordType.PLAN, {"plan": PLAN})
    log.add(RecordType.RUN_STATUS, {"status": "RUNNING"})
    log.step("a", "READY")
    log.step("a", "RUNNING", ts=102.0, attempt=1)
    log.live("progress", "a", ts=103.0, fraction=0.25, message="a quarter", metrics={"n": 1})
    log.live("token", "a", text="partial")
    assert log.fold.live.progress["a"] == {
        "fraction": 0.25,
        "message": "a quarter",
        "metrics": {"n": 1},
        "t": 3.0,
    }
    assert phase_of(log.fold.state) == "RUNNING"
    failure = {"type": "SkillFailed", "retryable": True, "message": "oops\nline 2", "attempt": 1}
    log.step("a", "RETRY_WAIT", attempt=1, failure=failure)
    errors = log.fold.state.steps["a"].failure
    assert errors is not None
    log.step("a", "READY", attempt=1)
    log.step("a", "RUNNING", ts=104.0, attempt=2)
    assert "a" not in log.fold.live.stream and log.fold.live.started["a"] == 4.0


def test_phases_and_plain_words_for_a_step_in_doubt() -> None:
    log = _task_log()
    log.add(RecordType.PLAN, {"plan": PLAN})
    log.add(RecordType.RUN_STATUS, {"status": "RUNNING"})
    log.step("a", "READY")
    log.step("a", "RUNNING", attempt=1)
    log.step("a", "COMMITTED", attempt=1, output={"text": "x"})
    log.step("b", "WAITING_APPROVAL", reason="requires approval")
    state = log.fold.state
    assert phase_of(state) == "WAITING_FOR_APPROVAL"
    assert "asks for your approval" in waiting_reason(state.steps["b"])
    resolved, pending = log.fold.resolved_inputs("b")
    assert resolved == {"template": "x!"} and pending == []
    log.step("b", "READY", attempt=0)
    log.step("b", "RUNNING", attempt=1)
    assert phase_of(state) == "RUNNING"
    assert log.fold.detail("b")["error"] == ""  # no stale "requires approval"
    log.step("b", "RETRY_WAIT", attempt=1, reason="interrupted")
    log.step(
        "b",
        "WAITING_APPROVAL",
        attempt=1,
        reason="in doubt: its effect call #1 had started when the run stopped",
    )
    words = waiting_reason(state.steps["b"])
    assert "side effect may already have happened" in words and "Approve to do it again" in words
    for status, phase in [
        ("PAUSED", "PAUSED"),
        ("INTERRUPTED", "INTERRUPTED"),
        ("ABORTED", "FAILED"),
        ("CANCELLED", "CANCELLED"),
    ]:
        state.status = type(state.status)(status)
        assert phase_of(state) == phase


def test_inputs_waiting_on_an_upstream_step_are_shown_as_written() -> None:
    log = _task_log()
    log.add(RecordType.PLAN, {"plan": PLAN})
    resolved, pending = log.fold.resolved_inputs("b")
    assert resolved == {"template": "${a.output.text}!"} and pending == ["template"]
