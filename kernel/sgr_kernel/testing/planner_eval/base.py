"""What an evaluation task is and how a plan is graded against it; catalogue entries."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sgr_kernel.models.plan import Plan
from sgr_kernel.models.refs import find_refs

__all__ = ["SKILL_CUES", "EvalTask", "grade", "judge_answer"]


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


# The cues each heavy skill declares (``Skill.cues``; tests/skills check they are the same).
SKILL_CUES: dict[str, list[str]] = {
    "backtest_sweep": [
        r"\bback-?test",
        r"\bsweep\b.{0,80}\b(strateg|lookback|window|grid|sharpe|crossover)",
    ],
    "video_render": [
        r"\b(make|render|create|produce|generate)\b.{0,60}\b(video|mp4|clip)s?\b",
        r"\bstoryboard",
    ],
    "deep_research": [
        r"\b(my|our|the) [\w.-]+ corp(us|ora)\b",
        r"\b(search|research|look up)\b.{0,40}\b(my|our) (notes|documents|docs|files|papers)",
        r"\bcit(e|ing) (the |its |their )?sources",
    ],
    "lora_finetune": [r"\bfine-?tun(e|ing)\b", r"\blora\b", r"\btrain\b.{0,40}\b(adapter|model)\b"],
}


def _cued(name: str, result_fields: list[str]) -> dict[str, Any]:
    return {"cues": SKILL_CUES[name], "capabilities": ["remote"], "result_fields": result_fields}


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
        expect: Case-insensitive texts of which one must appear in the run's final answer
            (end-to-end judging); empty: the answer is not checkable by text.
        tags: ``original`` for the first 22 tasks (their figure stays comparable);
            ``heavy`` for tasks that need a heavy skill, ``near`` for tasks that must not
            use one although their words come close.
        avoid: Skills that must not appear (a heavy skill for a question about it).
    """

    task: str
    skills: frozenset[str] = frozenset()
    any_of: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = ()
    chained: bool = False
    max_steps: int = 4
    expect: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default=())
    avoid: frozenset[str] = frozenset()


def _t(
    task: str,
    *,
    skills: Sequence[str] = (),
    any_of: Sequence[str] = (),
    keywords: Sequence[str] = (),
    chained: bool = False,
    max_steps: int = 4,
    expect: Sequence[str] = (),
    tags: Sequence[str] = ("original",),
    avoid: Sequence[str] = (),
) -> EvalTask:
    return EvalTask(
        task,
        frozenset(skills),
        frozenset(any_of),
        tuple(keywords),
        chained,
        max_steps,
        tuple(expect),
        tuple(tags),
        frozenset(avoid),
    )


def _n(task: str, **kw: Any) -> EvalTask:
    """A task added with the stricter evaluation (not among the original 22)."""
    return _t(task, tags=("added",), **kw)


def _inputs_text(plan: Plan) -> str:
    return " ".join(str(v) for s in plan.steps for v in s.inputs.values()).lower()


def grade(plan: Plan, task: EvalTask) -> list[str]:
    """What the plan misses of ``task``'s expectations (empty: correct)."""
    used = {s.skill for s in plan.steps}
    misses = [f"no {s} step" for s in sorted(task.skills - used)]
    misses += [f"uses {s}, which the task does not need" for s in sorted(task.avoid & used)]
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
    for s in plan.steps:
        code = s.inputs.get("code") if s.skill == "python" else None
        if isinstance(code, str) and not _compiles(code):
            misses.append(f"step {s.id}: its Python code does not compile")
    return misses


def _compiles(code: str) -> bool:
    # Placeholders are filled at run time: judge the code with each one as a name.
    text = re.sub(r"(?<!\$)\$\{[^}]*\}", "_ref", code)
    try:
        compile(text, "<plan>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def judge_answer(answer: str, task: EvalTask) -> bool | None:
    """End to end: does the run's final answer contain an expected text? None: not checkable."""
    if not task.expect:
        return None
    low = answer.lower()
    return any(e.lower() in low for e in task.expect)
