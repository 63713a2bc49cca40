"""The final answer of a run: what the cell renders as Markdown and ``--out`` binds.

A run's answer is the output of its last *sink* step (a step no other step depends on), in
plan order: an ``answer`` or ``format`` step's ``text``, a code step's printed output or last
value. The rule is pure and shared by the widget, the magics and the demo report, so all
three always show the same answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from sgr_kernel.graph.dag import build_dag
from sgr_kernel.models.plan import Plan

__all__ = [
    "FORMATS",
    "AnswerFormat",
    "RunAnswer",
    "answer_display",
    "answer_of",
    "answer_step",
    "fill_answer_slot",
    "final_answer",
    "render_answer",
]

AnswerFormat = Literal["markdown", "text", "json"]
FORMATS: tuple[AnswerFormat, ...] = ("markdown", "text", "json")


def answer_step(plan: Plan | None, outputs: Mapping[str, Any]) -> str | None:
    """The id of the step whose output is the run's answer, or ``None`` if none committed."""
    if plan is None or not plan.steps:
        return None
    try:
        children = build_dag(plan).children
    except Exception:  # a plan the kernel accepted always builds; be safe in a display path
        children = {s.id: () for s in plan.steps}
    sinks = [s.id for s in plan.steps if not children.get(s.id)]
    for sid in reversed(sinks):
        if outputs.get(sid) is not None:
            return sid
    return None


def final_answer(plan: Plan | None, outputs: Mapping[str, Any]) -> Any:
    """The answer's value: a string for text outputs, else the step's output data."""
    sid = answer_step(plan, outputs)
    if sid is None:
        return None
    out = outputs[sid]
    if not isinstance(out, Mapping):
        return out
    text = out.get("text")
    if isinstance(text, str):
        return text
    stdout, value = out.get("stdout"), out.get("value_repr")
    if isinstance(stdout, str) and stdout.strip():
        return stdout.rstrip("\n") + (f"\n{value}" if value else "")
    if isinstance(value, str):
        return value
    return {k: v for k, v in out.items() if k != "artifacts"} or dict(out)


def render_answer(value: Any, fmt: AnswerFormat = "markdown") -> str:
    """The answer as source text for ``fmt``: Markdown, plain text or JSON."""
    if value is None:
        return ""
    if fmt == "json":
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if isinstance(value, str):
        return value
    data = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return data if fmt == "text" else f"```json\n{data}\n```"


def answer_of(ctl: Any, fmt: AnswerFormat = "markdown") -> Any:
    """The final answer of a finished run controller (``None`` unless it COMPLETED)."""
    result = getattr(ctl, "result", None)
    status = getattr(result, "status", None)
    if result is None or str(getattr(status, "value", status)) != "COMPLETED":
        return None
    outputs = dict(getattr(result, "outputs", None) or {})
    view = getattr(ctl, "view", None)
    plan = view.fold.plan if view is not None else None
    if plan is not None:
        value = final_answer(plan, outputs)
    else:  # no plan at hand: the last step's output, in the order the run committed them
        value = final_answer(None, {}) if not outputs else _value_of(list(outputs.values())[-1])
    if fmt == "json" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _value_of(out: Any) -> Any:
    if isinstance(out, Mapping) and isinstance(out.get("text"), str):
        return out["text"]
    return out


def answer_display(value: Any, fmt: AnswerFormat = "markdown") -> Any:
    """An IPython display object for the answer (``None`` when there is none)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    from IPython.display import JSON, Markdown, Pretty

    if fmt == "markdown":
        return Markdown(render_answer(value, "markdown"))
    if fmt == "json" and isinstance(value, dict | list):
        return JSON(value)
    return Pretty(render_answer(value, fmt))


def fill_answer_slot(slot: Any, ctl: Any, fmt: AnswerFormat = "markdown") -> None:
    """Show a finished run's answer in the display ``slot`` left below its widget (an
    ``IPython.display.DisplayHandle``); a run without an answer leaves it empty."""
    shown = answer_display(answer_of(ctl, fmt), fmt)
    if slot is not None and shown is not None:
        slot.update(shown)


class RunAnswer:
    """What ``--out NAME`` binds: the run's final answer, with its whole result beside it.

    ``str(x)`` and ``x.answer`` are the answer (text, or data with ``--format json``);
    ``x.run_id``, ``x.status``, ``x.reason``, ``x.outputs`` and ``x.ok`` are the run's
    ``RunResult``'s (``x.result``), so code written for the result keeps working.
    """

    def __init__(self, result: Any, answer: Any, fmt: AnswerFormat = "markdown") -> None:
        self.result = result
        self.answer = answer
        self.format: AnswerFormat = fmt

    @property
    def run_id(self) -> str:
        return str(getattr(self.result, "run_id", ""))

    @property
    def status(self) -> Any:
        return getattr(self.result, "status", None)

    @property
    def reason(self) -> str | None:
        return getattr(self.result, "reason", None)

    @property
    def ok(self) -> bool:
        return bool(getattr(self.result, "ok", False))

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(getattr(self.result, "outputs", None) or {})

    @property
    def text(self) -> str:
        """The answer as source text in its format."""
        return render_answer(self.answer, self.format)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        status = getattr(self.status, "value", self.status)
        return f"RunAnswer(run_id={self.run_id!r}, status={status!r}, answer={self.answer!r})"

    def _repr_markdown_(self) -> str | None:
        if self.format != "markdown" or self.answer is None:
            return None
        return self.text
