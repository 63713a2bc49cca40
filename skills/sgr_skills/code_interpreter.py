"""``code_interpreter``: the model writes Python for a task, the sandbox runs it.

The model answers ``{explanation, code}`` through schema-guided generation. When the code
raises (or runs out of time), its traceback goes back to the model, which writes a fix; this
repair loop is bounded by ``max_repairs``. Not idempotent, like ``python``: every attempt runs
in the same stateful session.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.errors import SandboxExecutionError, SandboxTimeout
from sgr_kernel.llm.base import Message
from sgr_kernel.models.plan import Placement
from sgr_kernel.sandbox.base import ExecResult
from sgr_kernel.skills.base import CAP_LLM, CAP_SANDBOX, Estimate, Skill, SkillContext
from sgr_kernel.trace.base import ArtifactRef
from sgr_skills.python import raise_for_result

__all__ = ["CodeInterpreterSkill", "CodeModel"]

SYSTEM = """You write Python 3.11 code that is run in a sandbox to do the user's task.
The sandbox has numpy, pandas and matplotlib, and no network. It is stateful like a notebook:
variables from earlier code are still defined. The working directory is /workspace; files
saved under /workspace/out are returned, and so are open matplotlib figures (do not call
plt.show()). The value of the last expression is returned, so end with the result.
Answer with a short explanation and the code."""

_TAIL = 3000


class CodeModel(BaseModel):
    """What the model writes: why, then the code."""

    explanation: str = Field(max_length=1000, description="What the code does, briefly.")
    code: str = Field(min_length=1, max_length=20_000, description="Python code to run.")


class CodeInterpreterInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1, max_length=20_000, description="What the code must do.")
    context: str | None = Field(None, max_length=100_000, description="Extra material.")
    max_repairs: int = Field(2, ge=0, le=5, description="Fix attempts after a failure.")
    timeout_s: float | None = Field(None, gt=0, le=3600, description="Deadline per run.")


class CodeInterpreterOutput(BaseModel):
    code: str = Field(description="The code that ran successfully.")
    explanation: str = ""
    stdout: str = ""
    value: Any = None
    value_repr: str | None = None
    artifacts: list[ArtifactRef] = Field(default_factory=list)
    attempts: int = Field(1, description="Code versions run (1 + repairs).")


def _feedback(res: ExecResult) -> str:
    what = "ran past its deadline" if res.timed_out else f"raised {res.error_type}"
    parts = [f"The code {what}."]
    if res.state_lost:
        parts.append("The sandbox restarted, so variables from earlier code are gone.")
    if res.error:
        parts.append(f"Traceback (tail):\n{res.error[-_TAIL:]}")
    if res.stdout:
        parts.append(f"Output (tail):\n{res.stdout[-1000:]}")
    parts.append("Fix the code and answer again.")
    return "\n\n".join(parts)


class CodeInterpreterSkill(Skill):
    name = "code_interpreter"
    description = (
        "Have the language model write Python for a task and run it in the sandbox "
        "(numpy, pandas, matplotlib; stateful; no network); errors are fed back for fixes. "
        "Input: task. Outputs: code, stdout, value, artifacts (files and figures)."
    )
    Input = CodeInterpreterInput
    Output = CodeInterpreterOutput
    capabilities = frozenset({CAP_LLM, CAP_SANDBOX})
    placement = Placement.SANDBOX
    idempotent = False

    def estimate(self, inputs: dict[str, Any]) -> Estimate:
        size = sum(len(str(v)) for v in inputs.values())
        return Estimate(tokens=size // 4 + 1500, llm_calls=1)

    async def run(self, ctx: SkillContext, inputs: CodeInterpreterInput) -> CodeInterpreterOutput:
        user = (
            f"Context:\n{inputs.context}\n\n" if inputs.context else ""
        ) + f"Task: {inputs.task}"
        messages = [Message(role="system", content=SYSTEM), Message(role="user", content=user)]
        res: ExecResult | None = None
        for attempt in range(1, inputs.max_repairs + 2):
            gen = await ctx.generate(CodeModel, messages)
            res = await ctx.sandbox(gen.code, timeout_s=inputs.timeout_s)
            if res.ok:
                value = res.value if res.value is not None else res.value_repr
                return CodeInterpreterOutput(
                    code=gen.code,
                    explanation=gen.explanation,
                    stdout=res.stdout,
                    value=value,
                    value_repr=res.value_repr,
                    artifacts=list(res.artifacts),
                    attempts=attempt,
                )
            messages += [
                Message(role="assistant", content=gen.model_dump_json()),
                Message(role="user", content=_feedback(res)),
            ]
        assert res is not None
        try:
            raise_for_result(res)
        except (SandboxTimeout, SandboxExecutionError) as e:
            raise type(e)(f"still failing after {inputs.max_repairs} repair(s): {e}") from None
        raise SandboxExecutionError("unreachable")  # pragma: no cover
