"""The public surface is pinned, and importing the packages stays cheap (docs/conventions.md)."""

from __future__ import annotations

import subprocess
import sys

import sgr_jupyter
import sgr_kernel

KERNEL_EXPORTS = {
    "BudgetPolicy", "Durability", "Kernel", "KernelConfig", "Placement", "Plan",
    "RemoteJobSpec", "ReplayEngine", "ReplayReport", "RequestTrace", "RetryPolicy", "RunConfig",
    "RunHandle", "RunResult", "RunStatus", "SgrError", "SgrUsageError", "Skill", "SkillContext",
    "StepError", "StepSpec", "StepStatus", "__version__", "parse_plan",
}  # fmt: skip


def test_kernel_exports_are_pinned() -> None:
    assert set(sgr_kernel.__all__) == KERNEL_EXPORTS
    for name in sgr_kernel.__all__:
        assert hasattr(sgr_kernel, name), name


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
