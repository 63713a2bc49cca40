"""The final answer of a run: which step gives it, and how each format shows it."""

from __future__ import annotations

from types import SimpleNamespace

from sgr_jupyter._answer import (
    RunAnswer,
    answer_display,
    answer_step,
    final_answer,
    render_answer,
)
from sgr_kernel.models import parse_plan

PLAN = parse_plan(
    """
steps:
  - {id: data, skill: python, inputs: {code: "print(1)"}}
  - {id: side, skill: format, inputs: {template: "a side note"}}
  - {id: summary, skill: format, inputs: {template: "**total**: ${data.output.stdout}"}}
"""
)


def test_the_last_committed_sink_step_gives_the_answer() -> None:
    outputs = {
        "data": {"stdout": "1\n"},
        "side": {"text": "a side note"},
        "summary": {"text": "**total**: 1"},
    }
    assert answer_step(PLAN, outputs) == "summary"
    assert final_answer(PLAN, outputs) == "**total**: 1"
    # Without the last sink, the one before it (data feeds summary: it is not a sink).
    del outputs["summary"]
    assert answer_step(PLAN, outputs) == "side"
    assert answer_step(PLAN, {}) is None and final_answer(PLAN, {}) is None


def test_code_and_data_outputs() -> None:
    plan = parse_plan("steps:\n  - {id: c, skill: python, inputs: {code: x}}\n")
    assert final_answer(plan, {"c": {"stdout": "hi\n", "value_repr": "3"}}) == "hi\n3"
    assert final_answer(plan, {"c": {"stdout": "", "value_repr": "3"}}) == "3"
    data = final_answer(plan, {"c": {"total": 4, "artifacts": []}})
    assert data == {"total": 4}
    assert render_answer(data, "markdown") == '```json\n{\n  "total": 4\n}\n```'
    assert render_answer(data, "json") == '{\n  "total": 4\n}'
    assert render_answer("**x**", "text") == "**x**"


def test_displays_per_format() -> None:
    assert type(answer_display("**x**", "markdown")).__name__ == "Markdown"
    assert type(answer_display("**x**", "text")).__name__ == "Pretty"
    assert type(answer_display({"a": 1}, "json")).__name__ == "JSON"
    assert answer_display("  ", "markdown") is None and answer_display(None) is None


def test_run_answer_is_the_answer_and_keeps_the_result() -> None:
    result = SimpleNamespace(
        run_id="r1", status="COMPLETED", reason=None, outputs={"a": {"text": "hi"}}, ok=True
    )
    ans = RunAnswer(result, "hi **there**")
    assert str(ans) == "hi **there**" and ans._repr_markdown_() == "hi **there**"
    assert ans.outputs == {"a": {"text": "hi"}} and ans.ok and ans.run_id == "r1"
    assert "RunAnswer(run_id='r1'" in repr(ans)
    assert RunAnswer(result, {"k": 1}, "json")._repr_markdown_() is None
