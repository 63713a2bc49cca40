"""Numeric limits are bounded and finite, and checked before a run is created (or resumed)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from pydantic import ValidationError
from skills_for_tests import make_kernel, plan_of

from sgr_kernel.engine import Kernel, KernelConfig, RunConfig
from sgr_kernel.errors import ConfigError, PlanValidationError, SgrUsageError
from sgr_kernel.models.policies import BudgetPolicy
from sgr_kernel.models.remote import RemoteJobSpec


@pytest.mark.parametrize(
    "kw",
    [
        {"max_concurrency": 0},
        {"max_concurrency": -1},
        {"max_concurrency": 10**6},
        {"default_timeout_s": math.inf},
        {"default_timeout_s": math.nan},
        {"default_timeout_s": 0},
        {"snapshot_every": 0},
        {"approval_mode": "maybe"},
    ],
)
def test_run_settings_out_of_range_are_config_errors(kw: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        RunConfig(**kw)  # type: ignore[arg-type]


def test_a_saved_bad_setting_is_refused_on_resume_not_run() -> None:
    with pytest.raises(ConfigError, match="max_concurrency"):
        RunConfig.from_json({"max_concurrency": 0})
    with pytest.raises(ConfigError, match="malformed"):
        RunConfig.from_json({"max_concurrency": "many"})


@pytest.mark.parametrize(
    "extra",
    [
        {"timeout_s": math.inf},
        {"timeout_s": 10**9},
        {"retry": {"max_attempts": 1, "backoff_s": math.inf}},
        {"retry": {"max_attempts": 10**6}},
    ],
)
def test_step_numbers_are_finite_and_bounded(tmp_path: Path, extra: dict[str, object]) -> None:
    with pytest.raises(SgrUsageError):
        plan_of({"id": "a", "skill": "noop", **extra})


def test_budgets_are_finite() -> None:
    for bad in ({"max_cost_usd": math.nan}, {"max_wall_s": math.inf}, {"max_steps": -1}):
        with pytest.raises(ValidationError):
            BudgetPolicy(**bad)  # type: ignore[arg-type]


def test_refused_starts_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    k = make_kernel(tmp_path)
    for task in ("", "   ", "x\x00y", "x" * 200_000):
        with pytest.raises(SgrUsageError):
            asyncio.run(k.run(task=task))
    plan = plan_of({"id": "a", "skill": "noop", "capabilities": ["netwrok"]})
    with pytest.raises(PlanValidationError):
        asyncio.run(k.run(plan=plan))
    monkeypatch.setenv("SGR_PROVIDER", "bogus")
    bare = Kernel(KernelConfig(home=tmp_path))  # the configured provider, checked up front
    with pytest.raises(ConfigError):
        asyncio.run(
            bare.run(plan=plan_of({"id": "a", "skill": "format", "inputs": {"template": "x"}}))
        )
    monkeypatch.setenv("SGR_PROVIDER", f"scripted:{tmp_path / 'missing.jsonl'}")
    with pytest.raises(ConfigError, match=r"missing\.jsonl"):
        asyncio.run(Kernel(KernelConfig(home=tmp_path)).run(task="say hi"))
    assert k.store.list_runs() == []


def test_job_bodies_are_bounded() -> None:
    deep: object = 1
    for _ in range(100):
        deep = [deep]
    for params in ({"x": deep}, {"x": math.nan}):
        with pytest.raises(ValidationError):
            RemoteJobSpec(job_type="j", params=params, idempotency_key="k")
    with pytest.raises(ValidationError):
        RemoteJobSpec(job_type="j", idempotency_key="k", timeout_s=math.inf)
