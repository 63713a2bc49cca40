"""Scheduling, failure propagation and retries, checked against the WAL order."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from skills_for_tests import make_kernel, plan_of

from sgr_kernel.engine import RunConfig
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.base import Record, RecordType


def _run(tmp_path: Path, plan: Any, **kw: Any) -> tuple[Any, Any, list[Record]]:
    k = make_kernel(tmp_path, **kw)
    result = asyncio.run(k.run(plan=plan))
    return k, result, list(k.store.read(result.run_id).records)


def _step_events(records: list[Record]) -> list[tuple[str, str, int]]:
    return [
        (r.step or "", r.data["status"], int(r.data.get("attempt", 0)))
        for r in records
        if r.type is RecordType.STEP
    ]


def test_step_starts_as_soon_as_its_inputs_commit(tmp_path: Path) -> None:
    # 'fast' -> 'child' must not wait for the unrelated slow branch.
    log = tmp_path / "order.log"
    plan = plan_of(
        {"id": "slow", "skill": "slow", "inputs": {"seconds": 0.3, "log": str(log)}},
        {"id": "fast", "skill": "noop"},
        {
            "id": "child",
            "skill": "slow",
            "inputs": {"seconds": 0, "log": str(log), "x": {"$ref": "fast.output.value"}},
        },
    )
    _, result, records = _run(tmp_path, plan)
    assert result.status is RunStatus.COMPLETED
    lines = log.read_text().splitlines()
    assert lines.index("end child") < lines.index("end slow"), lines
    events = _step_events(records)
    commit_fast = events.index(("fast", "COMMITTED", 1))
    start_child = events.index(("child", "RUNNING", 1))
    assert commit_fast < start_child


def test_bounded_concurrency_is_respected(tmp_path: Path) -> None:
    log = tmp_path / "conc.log"
    steps = [
        {"id": f"s{i}", "skill": "slow", "inputs": {"seconds": 0.02, "log": str(log), "x": i}}
        for i in range(12)
    ]
    _, result, records = _run(tmp_path, plan_of(*steps), run=RunConfig(max_concurrency=3))
    assert result.status is RunStatus.COMPLETED
    live, peak = 0, 0
    for line in log.read_text().splitlines():
        live += 1 if line.startswith("start") else -1
        peak = max(peak, live)
    assert peak == 3
    # The same bound holds in the WAL: never more than 3 steps RUNNING at once.
    running: set[str] = set()
    for sid, status, _ in _step_events(records):
        if status == "RUNNING":
            running.add(sid)
        else:
            running.discard(sid)
        assert len(running) <= 3


def test_failure_skips_dependents_and_independent_branches_still_run(tmp_path: Path) -> None:
    plan = plan_of(
        {"id": "bad", "skill": "always_fail", "inputs": {"retryable": False}},
        {"id": "child", "skill": "noop", "inputs": {"x": {"$ref": "bad.output.value"}}},
        {"id": "grandchild", "skill": "noop", "depends_on": ["child"]},
        {"id": "other", "skill": "noop"},
        {"id": "other2", "skill": "noop", "depends_on": ["other"]},
    )
    k, result, _ = _run(tmp_path, plan)
    assert result.status is RunStatus.FAILED
    assert "bad" in (result.reason or "")
    st = k.load(result.run_id).steps
    assert st["bad"].status is StepStatus.FAILED
    assert st["bad"].failure is not None and st["bad"].failure.type == "Fatal"
    assert st["child"].status is StepStatus.SKIPPED
    assert st["grandchild"].status is StepStatus.SKIPPED
    assert st["other"].status is StepStatus.COMMITTED
    assert st["other2"].status is StepStatus.COMMITTED


def test_retry_with_backoff_then_success(tmp_path: Path) -> None:
    retry = {"max_attempts": 4, "backoff_s": 0.01, "multiplier": 2.0, "jitter": 0.0}
    plan = plan_of({"id": "f", "skill": "flaky", "inputs": {"fail_times": 2}, "retry": retry})
    k, result, records = _run(tmp_path, plan)
    assert result.status is RunStatus.COMPLETED
    st = k.load(result.run_id).steps["f"]
    assert st.attempt == 3
    assert [f.attempt for f in st.failures] == [1, 2]
    delays = [r.data["delay_s"] for r in records if r.data.get("status") == "RETRY_WAIT"]
    assert delays == [0.01, 0.02]  # exponential, no jitter
    assert [e for e in _step_events(records) if e[0] == "f"] == [
        ("f", "RUNNING", 1),
        ("f", "RETRY_WAIT", 1),
        ("f", "READY", 1),
        ("f", "RUNNING", 2),
        ("f", "RETRY_WAIT", 2),
        ("f", "READY", 2),
        ("f", "RUNNING", 3),
        ("f", "COMMITTED", 3),
    ]


def test_retries_exhausted_fail_the_step(tmp_path: Path) -> None:
    retry = {"max_attempts": 3, "backoff_s": 0.0}
    plan = plan_of({"id": "f", "skill": "always_fail", "retry": retry})
    k, result, _ = _run(tmp_path, plan)
    assert result.status is RunStatus.FAILED
    st = k.load(result.run_id).steps["f"]
    assert st.status is StepStatus.FAILED and st.attempt == 3


def test_non_retryable_errors_are_not_retried(tmp_path: Path) -> None:
    retry = {"max_attempts": 5, "backoff_s": 0.0}
    plan = plan_of(
        {"id": "f", "skill": "always_fail", "inputs": {"retryable": False}, "retry": retry},
        # A contract error (bad resolved input) is never retried either.
        {"id": "a", "skill": "ask", "inputs": {"question": "q"}},
        {"id": "g", "skill": "noop", "inputs": {"x": {"$ref": "a.output.text"}}, "retry": retry},
    )
    k, result, _ = _run(tmp_path, plan)
    st = k.load(result.run_id).steps
    assert st["f"].status is StepStatus.FAILED and st["f"].attempt == 1
    assert st["g"].status is StepStatus.FAILED and st["g"].attempt == 1
    assert st["g"].failure is not None and st["g"].failure.type == "StepContractError"
    assert result.status is RunStatus.FAILED
