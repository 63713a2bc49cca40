"""The planner's prompt: the shapes and skills offered, few-shot examples, the task."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sgr_kernel.llm.base import Message
from sgr_kernel.llm.shapes import (
    FREE_SHAPE,
    SHAPE_EXAMPLES,
    SHAPE_HELP,
    available_shapes,
    shapes_for_task,
)
from sgr_kernel.llm.skill_shapes import (
    asks_for_more,
    explains,
    skill_of_shape,
    skill_shape_for_task,
    skill_shape_help,
)

__all__ = ["planner_messages"]

_SYSTEM = (
    "You are a planner. First choose the shape of the task:\n{shapes}\n"
    "For every shape but steps, leave steps null: the steps follow from the shape.\n"
    "For steps, split the task into as few steps as possible; each step calls one skill.\n"
    "Skills:\n{skills}\nStep 1 is called s1, step 2 is s2, and so on. To pass the "
    "output of an earlier step into an input, write ${{sN.output.FIELD}}, for example "
    "${{s1.output.text}}; a step can only use the steps before it, and only their outputs "
    "listed after ->.\nPut the user's own words into the inputs. Reply with JSON only."
)

_SKILL_SYSTEM = (
    "You are a planner. The task's words ask for the skill {name}: {description}\n"
    'Reply {{"shape": "{name}", "inputs": {{...}}}} with its inputs taken from the '
    "task's words{then}; write null for any input the task does not give, and its default is "
    "used.{more}\nReply with JSON only."
)
_SKILL_MORE = (
    '\nOnly when the task needs more than that, reply {{"shape": "steps", "steps": '
    "[...]}}, each step calling one of these skills:\n{skills}\nStep 1 is s1, step 2 is s2; "
    "${{sN.output.FIELD}} passes an earlier step's output."
)

# (task, steps) pairs for the `steps` shape; shown when the catalogue has what they use.
_EXAMPLES: tuple[tuple[str, tuple[tuple[str, dict[str, str]], ...]], ...] = (
    (
        "Summarise the text 'The cat sat on the mat all day.', then translate the summary "
        "into French.",
        (
            ("answer", {"question": "Summarise the text 'The cat sat on the mat all day.'"}),
            ("answer", {"question": "Translate into French: ${s1.output.text}"}),
        ),
    ),
)


def _by_name(catalogue: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(e["name"]): e for e in catalogue}


def _props(entry: Mapping[str, Any]) -> dict[str, Any]:
    return dict((entry.get("inputs") or {}).get("properties") or {})


def _required(entry: Mapping[str, Any]) -> set[str]:
    return set((entry.get("inputs") or {}).get("required") or ())


def _shapes(catalogue: Sequence[Mapping[str, Any]], task: str | None) -> list[str]:
    shapes = available_shapes(catalogue)
    if task is None:
        return shapes
    skill = skill_shape_for_task(task, catalogue)
    if skill is not None:  # the task's words cue a skill: its shape; steps if it asks more
        return [skill, FREE_SHAPE] if asks_for_more(task, catalogue) else [skill]
    return shapes_for_task(task, shapes)


def _shape_help(shape: str, catalogue: Sequence[Mapping[str, Any]], task: str) -> str:
    entry = skill_of_shape(shape, _by_name(catalogue))
    if entry is None:
        return SHAPE_HELP[shape]
    return skill_shape_help(entry, explains(task, catalogue))


def _skill_line(entry: Mapping[str, Any]) -> str:
    req = _required(entry)
    args = ", ".join(p if p in req else f"{p}?" for p in _props(entry))
    outs = ", ".join(entry.get("outputs") or ())
    return f"- {entry['name']}({args}) -> {outs}: {entry.get('description', '')}"


def _example_json(steps: Sequence[tuple[str, Mapping[str, str]]], by: Mapping[str, Any]) -> str:
    out = []
    for skill, inputs in steps:
        full = {p: inputs.get(p) for p in _props(by[skill])}  # strict: every input present
        out.append({"skill": skill, "inputs": full})
    data = {"shape": FREE_SHAPE, "before": None, "after": None, "steps": out}
    return json.dumps(data, ensure_ascii=False)


def _shape_json(shape: str, before: str | None, after: str | None) -> str:
    data = {"shape": shape, "before": before, "after": after, "steps": None}
    return json.dumps(data, ensure_ascii=False)


def planner_messages(task: str, catalogue: Sequence[Mapping[str, Any]]) -> list[Message]:
    """The system prompt, the few-shot examples that fit the catalogue, and the task."""
    by = _by_name(catalogue)
    skills = "\n".join(_skill_line(e) for e in by.values())
    shapes = _shapes(catalogue, task)
    help_ = "\n".join(f"- {name}: {_shape_help(name, catalogue, task)}" for name in shapes)
    system = _SYSTEM.format(skills=skills, shapes=help_)
    skill_shape = next((e for s in shapes if (e := skill_of_shape(s, by)) is not None), None)
    if skill_shape is not None:
        then = (
            " (an explanation of the result follows by itself)" if explains(task, catalogue) else ""
        )
        system = _SKILL_SYSTEM.format(
            name=skill_shape["name"],
            description=str(skill_shape.get("description", ""))[:300],
            then=then,
            more=_SKILL_MORE.format(skills=skills) if FREE_SHAPE in shapes else "",
        )
    msgs = [Message(role="system", content=system)]
    shots: list[tuple[str, str]] = []
    for ex_task, steps in (
        () if skill_shape else _EXAMPLES
    ):  # the free plan first: the last examples weigh most
        uses = {s for s, _ in steps}
        fits = uses <= set(by) and all(
            set(i) <= set(_props(by[s])) and _required(by[s]) <= set(i) for s, i in steps
        )
        if fits:
            shots.append((ex_task, _example_json(steps, by)))
    shots += [
        (ex_task, _shape_json(shape, before, after))
        for ex_task, shape, before, after in SHAPE_EXAMPLES
        if shape in shapes
    ]
    for ex_task, answer in shots:
        msgs.append(Message(role="user", content=f"Task: {ex_task}"))
        msgs.append(Message(role="assistant", content=answer))
    msgs.append(Message(role="user", content=f"Task: {task}"))
    return msgs
