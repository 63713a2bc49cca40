"""Plan shapes: the planner decides what kind of task it has before (or instead of) steps.

Most notebook tasks have one of a few shapes: a question the model answers, a computation
run as code, a computation then an explanation of its result, a text shown in a given
layout. The planner's first field is the shape; for a known shape the kernel writes the
steps itself, with the user's own words as inputs and references wired to each skill's
real output fields, so a plan of a known shape cannot refer forward, to itself or to a
field that does not exist, and its ``format`` step always shows an earlier output. Only
``steps`` (anything else) asks the model to write the steps.

A shape is offered only when the catalogue has the skills (and inputs) it uses, and only
when the task's own words allow it (:func:`shapes_for_task`): a task that says "with
Python" or asks for a computation on given numbers gets a code shape, never a prose
answer; a task that asks for a title, a card or a label gets the layout shape. ``steps``
is always offered, so a task that fits no shape can still be planned step by step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "FREE_SHAPE",
    "SHAPE_EXAMPLES",
    "SHAPE_HELP",
    "available_shapes",
    "expand_shape",
    "shapes_for_task",
]

FREE_SHAPE = "steps"
"""The shape whose steps the model writes itself."""

Steps = list[tuple[str, dict[str, str]]]

SHAPE_HELP: dict[str, str] = {
    "answer": "the language model answers or writes it directly: a fact, an explanation, "
    "a summary, a translation, a list, a poem or a story",
    "code": "a computation done by running Python code: compute, calculate, count, sort, "
    "check or print something with Python",
    "code_then_explain": "a computation with Python code, then an explanation or description "
    "of its result",
    "answer_then_format": "text the model writes, then shown in a layout the task gives "
    "(under a title, as a card, 'Label: <text>'); `before` and `after` are the layout's "
    "own text around the answer",
    FREE_SHAPE: "anything else: write the steps yourself",
}

# What each shape needs from the catalogue: skill -> inputs it sets.
_NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "answer": {"answer": ("question",)},
    "code": {"code_interpreter": ("task",)},
    "code_then_explain": {"code_interpreter": ("task",), "answer": ("question", "context")},
    "answer_then_format": {"answer": ("question",), "format": ("template",)},
}
# Outputs the shapes refer to, checked against the catalogue too.
_REFERS: dict[str, dict[str, tuple[str, ...]]] = {
    "code_then_explain": {"code_interpreter": ("stdout", "value")},
    "answer_then_format": {"answer": ("text",)},
}

# (task, shape, before, after): contrasting pairs (compute vs explain, write vs write+layout).
SHAPE_EXAMPLES: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("What is the capital of France?", "answer", None, None),
    ("Compute 12 * 34 in Python.", "code", None, None),
    ("Write a short story about a dragon.", "answer", None, None),
    ("Use Python to count the words in 'to be or not to be'.", "code", None, None),
    (
        "Calculate the factorial of 10 with Python, then explain the result.",
        "code_then_explain",
        None,
        None,
    ),
    ("Explain what recursion is.", "answer", None, None),
    (
        "Write a poem about snow and put it under the title 'Snow'.",
        "answer_then_format",
        "Snow\n\n",
        "",
    ),
    (
        "Which planet is largest? Then format the answer as 'Planet: <name>'.",
        "answer_then_format",
        "Planet: ",
        "",
    ),
)


def _props(entry: Mapping[str, Any]) -> set[str]:
    return set((entry.get("inputs") or {}).get("properties") or {})


def available_shapes(catalogue: Sequence[Mapping[str, Any]]) -> list[str]:
    """The shapes the catalogue supports, then ``steps``."""
    by = {str(e["name"]): e for e in catalogue}
    shapes = []
    for shape, needs in _NEEDS.items():
        ok = all(
            skill in by and set(inputs) <= _props(by[skill]) for skill, inputs in needs.items()
        )
        refers = _REFERS.get(shape, {})
        ok = ok and all(
            set(fields) <= set(by[skill].get("outputs") or ()) for skill, fields in refers.items()
        )
        if ok:
            shapes.append(shape)
    return [*shapes, FREE_SHAPE]


_CODE_TOOLS = re.compile(
    r"\b(python|code|script|program|numpy|pandas|matplotlib|dataframe|csv|regex)\b",
    re.IGNORECASE,
)
_CODE_ACTIONS = re.compile(
    r"\b(compute|calculate|print|count|sort|check|generate|plot|use|using|run|reverse|find|"
    r"simulate|load|parse|convert|draw|make|create|list all|evaluate|test)\b",
    re.IGNORECASE,
)
_ALWAYS_CODE = re.compile(r"\b(compute|calculate|simulate|histogram)\b", re.IGNORECASE)
_MATH_WORDS = re.compile(
    r"\b(sum of|mean of|median|average|standard deviation|variance|factorial|fibonacci|"
    r"primes?|sort|sorted|square root|power of|squares? of|cubes? of|multiply|divide|"
    r"count|how many|reverse|percent(age)? of|gcd|lcm)\b|\d\s*%",
    re.IGNORECASE,
)
_EXPLAIN = re.compile(
    r"\b(explain|describe|interpret|comment on|tell me what|sentence|summari[sz]e|then)\b",
    re.IGNORECASE,
)
_LAYOUT = re.compile(
    r"\b(title|titled|heading|headline|card|format|formatted|template|layout|label|"
    r"prefix|starts? with|begins? with|under the)\b",
    re.IGNORECASE,
)


def shapes_for_task(task: str, available: Sequence[str]) -> list[str]:
    """The shapes ``task`` may take, from its explicit cues, among ``available``.

    Code when the task asks to do something with Python or code (not just to explain it),
    to compute, calculate, simulate or chart, or asks for arithmetic on numbers it gives
    (with an explanation when it also asks to explain or continue); otherwise a direct
    answer, laid out when it asks for a title, card, label or format. ``steps`` always.
    """
    tool = bool(_CODE_TOOLS.search(task)) and bool(_CODE_ACTIONS.search(task))
    math = bool(_MATH_WORDS.search(task)) and any(c.isdigit() for c in task)
    code = tool or math or bool(_ALWAYS_CODE.search(task))
    if code:
        wanted = "code_then_explain" if _EXPLAIN.search(task) else "code"
    else:
        wanted = "answer_then_format" if _LAYOUT.search(task) else "answer"
    return [s for s in available if s in (wanted, FREE_SHAPE)]


def _answer(task: str, before: str | None, after: str | None) -> Steps:
    return [("answer", {"question": task})]


def _code(task: str, before: str | None, after: str | None) -> Steps:
    return [("code_interpreter", {"task": task})]


def _code_then_explain(task: str, before: str | None, after: str | None) -> Steps:
    context = "The code printed:\n${s1.output.stdout}\nIts result value: ${s1.output.value}"
    question = f"Explain the result of this task: {task}"
    return [
        ("code_interpreter", {"task": task}),
        ("answer", {"question": question, "context": context}),
    ]


def _answer_then_format(task: str, before: str | None, after: str | None) -> Steps:
    # A literal "${" the model wrote around the answer is escaped: only s1 is referenced.
    def lit(text: str | None) -> str:
        return (text or "").replace("${", "$${")

    template = f"{lit(before)}${{s1.output.text}}{lit(after)}"
    return [("answer", {"question": task}), ("format", {"template": template})]


_EXPAND: dict[str, Callable[[str, str | None, str | None], Steps]] = {
    "answer": _answer,
    "code": _code,
    "code_then_explain": _code_then_explain,
    "answer_then_format": _answer_then_format,
}


def expand_shape(shape: str, task: str, before: str | None, after: str | None) -> Steps:
    """The steps of a known shape, as ``(skill, inputs)`` pairs (``s1``, ``s2``… in order).

    Raises:
        KeyError: ``shape`` is ``steps`` or unknown.
    """
    return _EXPAND[shape](task, before, after)
