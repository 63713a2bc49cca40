"""The public surface is pinned, and importing the packages stays cheap (docs/conventions.md)."""

from __future__ import annotations

import subprocess
import sys

import sgr_jupyter
import sgr_kernel

KERNEL_EXPORTS = {
    "BudgetPolicy", "Durability", "Kernel", "KernelConfig", "Placement", "Plan",
    "RemoteJobSpec", "ReplayEngine", "ReplayReport", "RequestTrace", "RetryPolicy", "RunConfig",
    "RunHandle", "RunResult", "RunStatus", "RunSummary", "Runs", "SgrError", "SgrUsageError",
    "Skill", "SkillContext", "StepError", "StepSpec", "StepStatus", "__version__", "parse_plan",
}  # fmt: skip


def test_kernel_exports_are_pinned() -> None:
    assert set(sgr_kernel.__all__) == KERNEL_EXPORTS
    for name in sgr_kernel.__all__:
        assert hasattr(sgr_kernel, name), name


RUNS_EXPORTS = {
    "INLINE_MEDIA_TYPES", "RUN_ID_PATTERN", "STEER_WAIT_S", "Artifact", "Delivery", "Live",
    "RunDetail", "RunReport", "RunSummary", "Runs", "StepLine", "Steered", "artifacts_in",
    "default_root", "is_inline", "is_internal_step", "validate_run_id",
}  # fmt: skip


def test_runs_api_exports_are_pinned() -> None:
    import sgr_kernel.runs

    assert set(sgr_kernel.runs.__all__) == RUNS_EXPORTS
    for name in sgr_kernel.runs.__all__:
        assert hasattr(sgr_kernel.runs, name), name


def test_jupyter_exports_exist() -> None:
    for name in sgr_jupyter.__all__:
        assert hasattr(sgr_jupyter, name), name


def test_imports_are_cheap() -> None:
    heavy = ["docker", "openai", "llama_cpp", "dask", "distributed", "IPython", "anywidget"]
    code = (
        "import sys, sgr_kernel, sgr_jupyter, sgr_kernel.cli;"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out
