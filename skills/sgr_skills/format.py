"""``format``: pure placeholder rendering, no model. References are resolved by the engine."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.skills.base import Skill, SkillContext

__all__ = ["FormatSkill"]


class FormatInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(
        max_length=1_000_000,
        description="Text; ${STEP.output.FIELD} placeholders are filled in before the step runs.",
    )


class FormatOutput(BaseModel):
    text: str


class FormatSkill(Skill):
    name = "format"
    description = (
        "Render text from a template. Input: template, a string that may contain "
        "${STEP.output.FIELD} placeholders for earlier steps' outputs. Output: text."
    )
    Input = FormatInput
    Output = FormatOutput
    idempotent = True
    needs_reference = True

    async def run(self, ctx: SkillContext, inputs: FormatInput) -> FormatOutput:
        text = inputs.template
        return FormatOutput(text=text if isinstance(text, str) else str(text))
