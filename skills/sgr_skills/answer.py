"""``answer``: an LLM answer or summary, through schema-guided generation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.errors import SkillFailed
from sgr_kernel.llm.base import Message
from sgr_kernel.skills.base import CAP_LLM, Estimate, Skill, SkillContext

__all__ = ["AnswerSkill"]


class AnswerInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=20_000, description="What to answer.")
    context: str | None = Field(None, max_length=200_000, description="Material to use.")


class AnswerOutput(BaseModel):
    text: str = Field(description="The answer.")


class _Answer(BaseModel):
    """What the model fills in: brief reasoning first, then the answer (schema-guided)."""

    reasoning: str = Field(max_length=600, description="Brief reasoning, a few sentences.")
    answer: str = Field(min_length=1, max_length=4000, description="The final answer.")


class AnswerSkill(Skill):
    name = "answer"
    description = (
        "Answer a question or summarise text with the language model. "
        "Inputs: question (required), context (optional text to use). Output: text."
    )
    Input = AnswerInput
    Output = AnswerOutput
    capabilities = frozenset({CAP_LLM})
    idempotent = True
    planned_attempts = 2  # an empty answer fails its attempt; the planner allows one more

    def estimate(self, inputs: dict[str, object]) -> Estimate:
        size = sum(len(str(v)) for v in inputs.values())
        return Estimate(tokens=size // 4 + 700, llm_calls=1)

    async def run(self, ctx: SkillContext, inputs: AnswerInput) -> AnswerOutput:
        messages = [
            Message(role="system", content="You answer precisely and briefly."),
            Message(
                role="user",
                content=(f"Context:\n{inputs.context}\n\n" if inputs.context else "")
                + f"Question: {inputs.question}",
            ),
        ]
        out = await ctx.generate(_Answer, messages)
        if not out.answer.strip():
            # An empty answer is a failed attempt (retried), never a completed step.
            raise SkillFailed(
                f"the model answered {out.answer!r}: no text for {inputs.question[:80]!r}"
            )
        return AnswerOutput(text=out.answer)
