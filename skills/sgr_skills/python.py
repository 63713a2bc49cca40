"""``python``: run the given code in the run's sandbox session (no LLM).

The session keeps Python state across steps, like a notebook kernel, so a later ``python`` or
``code_interpreter`` step sees the variables an earlier one defined. The skill is **not
idempotent**: running code again can change that state and the workspace (``x += 1``), so the
engine must not re-run it blindly after an in-doubt attempt.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.errors import SandboxExecutionError, SandboxTimeout
from sgr_kernel.models.plan import Placement
from sgr_kernel.sandbox.base import ExecResult
from sgr_kernel.skills.base import CAP_SANDBOX, Skill, SkillContext
from sgr_kernel.trace.base import ArtifactRef

__all__ = ["PythonInput", "PythonOutput", "PythonSkill", "raise_for_result"]

_TAIL = 4000


class PythonInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=200_000, description="Python source to run.")
    timeout_s: float | None = Field(
        None, gt=0, le=3600, description="Deadline for this code (default: the sandbox's)."
    )


class PythonOutput(BaseModel):
    stdout: str = Field("", description="What the code printed (capped).")
    stderr: str = Field("", description="What the code wrote to stderr (capped).")
    value: Any = Field(
        None, description="The last expression's value: JSON when it is plain JSON, else repr."
    )
    value_repr: str | None = Field(None, description="repr() of the last expression.")
    artifacts: list[ArtifactRef] = Field(
        default_factory=list, description="Files written to /workspace/out and figures."
    )


def raise_for_result(res: ExecResult) -> None:
    """Turn a failed execution into the step error the engine understands."""
    if res.ok:
        return
    detail = (res.error or "")[-_TAIL:]
    lost = " (the sandbox restarted: Python state from earlier steps is lost)"
    note = lost if res.state_lost else ""
    if res.timed_out:
        raise SandboxTimeout(f"the code ran past its deadline{note}\n{detail}")
    raise SandboxExecutionError(f"the code raised {res.error_type}{note}\n{detail}")


def to_output(res: ExecResult) -> PythonOutput:
    """The skill output of a successful execution."""
    value = res.value if res.value is not None else res.value_repr
    return PythonOutput(
        stdout=res.stdout,
        stderr=res.stderr,
        value=value,
        value_repr=res.value_repr,
        artifacts=list(res.artifacts),
    )


class PythonSkill(Skill):
    name = "python"
    description = (
        "Run Python code in the hardened sandbox (Python 3.11 with numpy, pandas, matplotlib; "
        "no network). State persists across steps. Files saved under /workspace/out and open "
        "matplotlib figures come back as artifacts. Input: code. Outputs: stdout, value "
        "(the last expression), artifacts."
    )
    Input = PythonInput
    Output = PythonOutput
    capabilities = frozenset({CAP_SANDBOX})
    placement = Placement.SANDBOX
    idempotent = False

    async def run(self, ctx: SkillContext, inputs: PythonInput) -> PythonOutput:
        res = await ctx.sandbox(inputs.code, timeout_s=inputs.timeout_s)
        raise_for_result(res)
        return to_output(res)
