"""``%sgr replay`` and ``sgr replay`` run the same strict replay: a run whose code changed since
it was recorded shows its divergence report in the notebook (not a traceback) and makes the CLI
exit 1 with the same divergence."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel

from sgr_jupyter.display import Table
from sgr_kernel import cli
from sgr_kernel._defaults import default_skills
from sgr_kernel.engine import Kernel, KernelConfig
from sgr_kernel.llm.base import Message
from sgr_kernel.llm.scripted import ScriptedLLM
from sgr_kernel.models.plan import parse_plan
from sgr_kernel.models.status import RunStatus
from sgr_kernel.skills.base import CAP_LLM, Skill, SkillContext
from sgr_skills.answer import AnswerInput, AnswerOutput


class _Reply(BaseModel):
    reasoning: str
    answer: str


class OldAnswer(Skill):
    """The ``answer`` skill as it was when the run was recorded: another prompt."""

    name = "answer"
    description = "an older answer skill"
    Input = AnswerInput
    Output = AnswerOutput
    capabilities = frozenset({CAP_LLM})
    idempotent = True

    async def run(self, ctx: SkillContext, inputs: AnswerInput) -> AnswerOutput:
        out = await ctx.generate(_Reply, [Message(role="user", content="old: " + inputs.question)])
        return AnswerOutput(text=out.answer)


def test_a_divergence_is_a_report_in_the_notebook_and_exit_1_in_the_cli(env, capsys) -> None:
    home = env.magics.frozen_config().home
    recorded = Kernel(
        KernelConfig(home=home),
        skills={**default_skills(), "answer": OldAnswer},
        llm=ScriptedLLM([{"reasoning": "-", "answer": "42"}]),
    )
    plan = parse_plan('steps:\n  - {id: q, skill: answer, inputs: {question: "why"}}\n')
    result = asyncio.run(recorded.run(plan=plan))
    assert result.status is RunStatus.COMPLETED, result.reason

    table = env.shell.run_line_magic("sgr", f"replay {result.run_id}")
    assert isinstance(table, Table)
    notes = [n for n in table.notes if n.startswith("divergence: ")]
    assert len(notes) == 1 and "q" in notes[0], table.notes
    assert "live_calls" in repr(table) and "Traceback" not in repr(table)

    capsys.readouterr()
    code = cli.main(["--home", str(home), "replay", result.run_id, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["live_calls"] == 0
    assert [d["message"] for d in out["divergences"]] == [notes[0].removeprefix("divergence: ")]


@pytest.mark.parametrize("run_id", ["a:b", "../x", "a/b"])
def test_the_magics_refuse_what_the_store_refuses(env, run_id: str) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="is not a run id"):
        env.shell.run_line_magic("sgr", f"show {run_id}")
