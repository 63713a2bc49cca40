"""The plan as a run's log records it: what its author set, with the defaults pinned beside it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from skills_for_tests import make_kernel, plan_of

from sgr_kernel.models.plan import plan_from_data
from sgr_kernel.models.plan_log import PLAN_DEFAULTS, plan_from_record, plan_record
from sgr_kernel.trace.base import RecordType
from sgr_kernel.trace.state import RunState

_RETRY = st.fixed_dictionaries(
    {},
    optional={
        "max_attempts": st.integers(1, 5),
        "backoff_s": st.floats(0, 10, allow_nan=False),
        "retry_on": st.lists(st.sampled_from(["OSError", "TimeoutError"]), max_size=2),
    },
)
_STEP_EXTRAS = st.fixed_dictionaries(
    {},
    optional={
        "inputs": st.dictionaries(st.sampled_from(["a", "b"]), st.integers() | st.text(max_size=4)),
        "retry": _RETRY,
        "timeout_s": st.floats(0.5, 60, allow_nan=False),
        "idempotent": st.booleans(),
        "requires_approval": st.booleans(),
        "capabilities": st.lists(st.sampled_from(["net", "fs"]), max_size=2),
        "placement": st.sampled_from(["local", "sandbox", "remote"]),
        "resources": st.dictionaries(st.sampled_from(["GPU", "mem"]), st.integers(0, 4)),
    },
)


@st.composite
def plan_data(draw: st.DrawFn) -> dict[str, Any]:
    steps = [
        {"id": f"s{i}", "skill": "noop", **draw(_STEP_EXTRAS)}
        for i in range(draw(st.integers(1, 5)))
    ]
    data: dict[str, Any] = {"steps": steps}
    if draw(st.booleans()):
        data["name"] = draw(st.text("abc", min_size=1, max_size=5))
    if draw(st.booleans()):
        data["budget"] = {"max_steps": draw(st.integers(1, 50))}
    return data


@settings(max_examples=150, deadline=None)
@given(plan_data())
def test_a_plan_reads_back_equal_and_its_record_holds_only_what_its_author_set(
    data: dict[str, Any],
) -> None:
    plan = plan_from_data(data)
    rec = plan_record(plan)
    # Through JSON, as the log stores it.
    back = plan_from_record(json.loads(json.dumps(rec)))
    assert back == plan
    assert rec["plan"] == json.loads(json.dumps(data))  # not one default written per step
    # A whole plan without pinned defaults (how older logs hold it) reads the same.
    assert plan_from_record({"plan": plan.model_dump(mode="json")}) == plan


def test_the_pinned_defaults_win_over_the_readers_own() -> None:
    """A version whose defaults changed still reads back the plan that ran."""
    plan = plan_of(
        {"id": "a", "skill": "noop"},
        {"id": "b", "skill": "noop", "retry": {"max_attempts": 2}},
    )
    rec = plan_record(plan)
    # Each record gets its own copy: editing one (as this test does) edits no constant.
    assert rec["plan_defaults"] == PLAN_DEFAULTS and rec["plan_defaults"] is not PLAN_DEFAULTS
    # The defaults as an older writer pinned them (differing from this version's).
    rec["plan_defaults"]["StepSpec"]["retry"]["max_attempts"] = 4
    rec["plan_defaults"]["StepSpec"]["timeout_s"] = 9.0
    rec["plan_defaults"]["RetryPolicy"]["backoff_s"] = 1.25
    rec["plan_defaults"]["BudgetPolicy"]["max_steps"] = 7  # the author gave a budget: {}
    back = plan_from_record(rec)
    a, b = back.steps
    assert (a.retry.max_attempts, a.timeout_s, a.retry.backoff_s) == (4, 9.0, 0.5)
    # Set by the author: kept; the rest of its retry policy: the pinned RetryPolicy defaults.
    assert (b.retry.max_attempts, b.retry.backoff_s, b.timeout_s) == (2, 1.25, 9.0)
    assert back.budget.max_steps == 7
    # This version's defaults are untouched by reading.
    assert PLAN_DEFAULTS["StepSpec"]["retry"]["max_attempts"] == 1


@pytest.mark.parametrize(
    "rec",
    [
        {"plan": "steps", "plan_defaults": PLAN_DEFAULTS},
        {"plan": {"steps": "a"}, "plan_defaults": PLAN_DEFAULTS},
        {"plan": {"steps": [1, None]}, "plan_defaults": PLAN_DEFAULTS},
        {"plan": {"steps": [{"id": "a", "skill": "x", "retry": 3}]}, "plan_defaults": {}},
        {"plan": {"steps": [{"id": "a", "skill": "x"}]}, "plan_defaults": ["junk"]},
        {"plan": {"steps": [{"id": "a", "skill": "x"}]}, "plan_defaults": {"StepSpec": 3}},
        {"plan": {"steps": [{"id": "a", "skill": "x"}]}, "plan_defaults": {"Plan": {"x": 1}}},
        {"plan": {"steps": [{"id": "a"}]}, "plan_defaults": {"StepSpec": {"retry": "no"}}},
    ],
)
def test_a_damaged_plan_record_is_refused_by_validation_not_a_crash(rec: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as e:  # pydantic's ValidationError is one
        plan_from_record(rec)
    assert isinstance(e.value, ValidationError) or "plan_defaults" in str(e.value)


def test_a_run_logs_its_plan_compactly_and_every_reader_sees_the_whole_plan(
    tmp_path: Path,
) -> None:
    steps = [{"id": f"n{i}", "skill": "noop", "inputs": {"text": f"t{i}"}} for i in range(300)]
    steps[7]["retry"] = {"max_attempts": 3}
    plan = plan_from_data({"name": "wide", "steps": steps})
    k = make_kernel(tmp_path)
    result = asyncio.run(k.run(plan=plan))
    assert result.status.value == "COMPLETED"
    created = k.store.read(result.run_id).records[0]
    assert created.type is RecordType.RUN_CREATED
    assert created.data["plan"] == {"name": "wide", "steps": steps}
    whole = len(json.dumps(plan.model_dump(mode="json")))
    logged = len(json.dumps(created.data))
    assert logged < whole / 2
    print(f"FIGURE plan_log steps={len(steps)} record_bytes={logged} whole_plan_bytes={whole}")
    # Folded from the log alone, and as the kernel loads it: the plan that ran, defaults and all.
    assert RunState.from_records(k.store.read(result.run_id).records).plan == plan
    assert k.load(result.run_id).plan == plan
    assert created.data["plan_defaults"] == PLAN_DEFAULTS
