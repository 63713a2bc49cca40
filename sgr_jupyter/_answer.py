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

__all__ = ["FORMATS", "AnswerFormat", "answer_step", "final_answer", "render_answer"]

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
