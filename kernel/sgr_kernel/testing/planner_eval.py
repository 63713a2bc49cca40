"""The planner evaluation set: small tasks, the skills offered, what a correct plan contains.

Shared by ``bench/eval_planner.py`` (schema-valid %, executable %, correct %, latency) and the
local-model tests (100% schema-valid, identical output on two runs). The catalogue mirrors
the stable built-in skills of DESIGN §3.11, written out here because the kernel may not
import ``sgr_skills``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sgr_kernel.models.plan import Plan
from sgr_kernel.models.refs import find_refs

__all__ = ["EVAL_CATALOGUE", "EVAL_TASKS", "EvalTask", "grade"]


def _entry(
    name: str, description: str, inputs: dict[str, str], required: list[str], outputs: list[str]
) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for key, desc in inputs.items():
        props[key] = {"type": "string", "description": desc, "title": key.title()}
        if key not in required:
            props[key] = {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "default": None,
                "description": desc,
            }
    schema = {"type": "object", "properties": props, "required": required}
    return {"name": name, "description": description, "inputs": schema, "outputs": outputs}


EVAL_CATALOGUE: tuple[dict[str, Any], ...] = (
    _entry(
        "answer",
        "Answer a question or write text (a summary, a poem, an explanation) with the LLM.",
        {"question": "What to answer or write.", "context": "Optional material to use."},
        ["question"],
        ["text"],
    ),
    {
        **_entry(
            "format",
            "Fill a text template with earlier outputs; no LLM.",
            {"template": "Text with ${sN.output.FIELD} placeholders."},
            ["template"],
            ["text"],
        ),
        "needs_reference": True,
    },
    _entry(
        "python",
        "Run the given Python code in the sandbox and capture what it prints.",
        {"code": "Python source code to run."},
        ["code"],
        ["artifacts", "stdout", "value"],
    ),
    _entry(
        "code_interpreter",
        "Let the LLM write Python for a data or computing task, then run it in the sandbox.",
        {"task": "What the code must do, in words."},
        ["task"],
        ["artifacts", "code", "stdout", "value"],
    ),
)


@dataclass(frozen=True)
class EvalTask:
    """One task and what a correct plan for it must contain.

    Attributes:
        task: The user's request.
        skills: Skills that must each appear in the plan.
        any_of: At least one of these skills must appear (alternatives that are all fine).
        keywords: Words that must appear (case-insensitively) somewhere in the inputs.
        chained: A later step must use an earlier step's output through a reference.
        max_steps: More steps than this is not a correct plan.
    """

    task: str
    skills: frozenset[str] = frozenset()
    any_of: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = ()
    chained: bool = False
    max_steps: int = 4
    tags: tuple[str, ...] = field(default=())


def _t(
    task: str,
    *,
    skills: Sequence[str] = (),
    any_of: Sequence[str] = (),
    keywords: Sequence[str] = (),
    chained: bool = False,
    max_steps: int = 4,
) -> EvalTask:
    return EvalTask(task, frozenset(skills), frozenset(any_of), tuple(keywords), chained, max_steps)


_CODE = ("python", "code_interpreter")

EVAL_TASKS: tuple[EvalTask, ...] = (
    _t("What is the capital of Italy?", skills=["answer"], keywords=["Italy"], max_steps=1),
    _t("Explain what a write-ahead log is in two sentences.", skills=["answer"], keywords=["log"]),
    _t("Write a short poem about the sea.", skills=["answer"], keywords=["sea"], max_steps=2),
    _t("Summarise the plot of Hamlet.", skills=["answer"], keywords=["Hamlet"], max_steps=2),
    _t("Translate 'good morning' into Spanish.", skills=["answer"], keywords=["good morning"]),
    _t("Give three tips for writing clear emails.", skills=["answer"], keywords=["email"]),
    _t("What does HTTP status 404 mean?", skills=["answer"], keywords=["404"], max_steps=1),
    _t("Compute 17 * 23 with Python.", any_of=_CODE, keywords=["17"], max_steps=2),
    _t("Print the first 10 Fibonacci numbers using Python.", any_of=_CODE, keywords=["fib"]),
    _t("Use Python to count the vowels in 'schema guided reasoning'.", any_of=_CODE),
    _t("Calculate the mean of 3, 5, 7 and 9 in Python.", any_of=_CODE, keywords=["3"]),
    _t("Sort the list [5, 2, 9, 1] with Python and print it.", any_of=_CODE, keywords=["5"]),
    _t("Check with Python whether 97 is a prime number.", any_of=_CODE, keywords=["97"]),
    _t(
        "Write a haiku about rain and put it under the title 'Rain'.",
        skills=["answer", "format"],
        keywords=["rain"],
        chained=True,
    ),
    _t(
        "Write a limerick about a cat, then format it as a card that starts with 'Dear friend'.",
        skills=["answer", "format"],
        keywords=["cat"],
        chained=True,
    ),
    _t(
        "Compute 2 to the power of 20 in Python, then explain the result.",
        skills=["answer"],
        any_of=_CODE,
        keywords=["20"],
        chained=True,
    ),
    _t(
        "Generate the squares of 1 to 5 in Python and describe the pattern.",
        skills=["answer"],
        any_of=_CODE,
        chained=True,
    ),
    _t(
        "Answer: who wrote 'Pride and Prejudice'? Then format the answer as 'Author: <name>'.",
        skills=["answer", "format"],
        keywords=["Pride"],
        chained=True,
    ),
    _t(
        "Write a one-line slogan for a bakery.", skills=["answer"], keywords=["bakery"], max_steps=2
    ),
    _t("List three uses of a paperclip.", skills=["answer"], keywords=["paperclip"], max_steps=2),
    _t(
        "Use Python to reverse the string 'planner' and then write a sentence using the result.",
        skills=["answer"],
        any_of=_CODE,
        keywords=["planner"],
        chained=True,
    ),
    _t("Format the text 'Hello, world' as a title.", skills=["format"], keywords=["Hello"]),
)


def _inputs_text(plan: Plan) -> str:
    return " ".join(str(v) for s in plan.steps for v in s.inputs.values()).lower()


def grade(plan: Plan, task: EvalTask) -> list[str]:
    """What the plan misses of ``task``'s expectations (empty: correct)."""
    used = {s.skill for s in plan.steps}
    misses = [f"no {s} step" for s in sorted(task.skills - used)]
    if task.any_of and not task.any_of & used:
        misses.append(f"none of {sorted(task.any_of)}")
    text = _inputs_text(plan)
    misses += [f"inputs lack {k!r}" for k in task.keywords if k.lower() not in text]
    if task.chained and not any(
        not isinstance(r, Exception) for s in plan.steps for r in find_refs(s.inputs)
    ):
        misses.append("no step uses an earlier output")
    if len(plan.steps) > task.max_steps:
        misses.append(f"{len(plan.steps)} steps, at most {task.max_steps} expected")
    return misses


def catalogue_names(catalogue: Sequence[Mapping[str, Any]] = EVAL_CATALOGUE) -> list[str]:
    """The skill names of a catalogue."""
    return [str(e["name"]) for e in catalogue]
