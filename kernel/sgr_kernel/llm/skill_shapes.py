"""Skill shapes: a task whose words cue an installed skill gets a plan that runs it.

A skill declares ``cues`` (regular expressions on a user's task, ``Skill.cues``); when one
matches, the planner offers the shape named after the skill, and ``steps`` beside it only
when the task asks for more than that skill (a second skill's cues, "…, then render a
video"). For the skill shape the model writes only the skill's ``inputs``, under the
skill's own input schema (``skill_inputs.py``; ``grounding.py`` keeps the user's words), and
the kernel writes the plan: step ``s1`` runs the skill (asking for the ``remote`` capability
itself: the user's words asked for the skill), and when the task asks to explain, report
or say which, an ``answer`` step whose context refers to the skill's result fields. Required
inputs stay as written; the engine's plan validation (field constraints) refuses bad values
and the planner replans.

A task that only asks *about* the subject ("Explain what a backtest is", "What is LoRA?")
and points at no material of the user's own (a file, "my …", a named corpus) is not cued:
the words are there, the work is not wanted.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sgr_kernel.llm.grounding import ground_inputs, wire_words
from sgr_kernel.llm.skill_inputs import cap_schema, required_kept, skill_inputs_schema

__all__ = [
    "GRANTED",
    "asks_for_more",
    "cued_skills",
    "expand_skill_shape",
    "explains",
    "skill_of_shape",
    "skill_shape_for_task",
    "skill_shape_help",
    "with_skill_inputs",
]

GRANTED = frozenset({"remote"})
"""Capabilities a cued skill's step asks for itself: the user's words asked for the skill,
and ``remote`` only sends its jobs to the run's own dispatcher. Others (``network``) still
need the run's grant."""
_BUILTIN = frozenset({"answer", "code", "code_then_explain", "answer_then_format", "steps"})

_ABOUT = re.compile(
    r"^\s*(please\s+)?(explain|describe|define|why\b|what(\s+is|\s+are|\s+does|\s+do|'s)|"
    r"how\s+(does|do|is|are|can|should)|tell me (about|what)|is\s+it|when should)\b",
    re.IGNORECASE,
)
_OWN_MATERIAL = re.compile(
    r"\b[\w-]+\.(csv|parquet|jsonl|json|txt|md|pdf)\b|\b(my|our)\b|"
    r"\b(the|my|our)\s+[\w.-]+\s+corp(us|ora)\b",
    re.IGNORECASE,
)
_EXPLAIN = re.compile(
    r"\b(explain|describe|interpret|summari[sz]e|tell me|report|which|comment on|"
    r"what (is|are|was|were) the)\b",
    re.IGNORECASE,
)


def _cues(entry: Mapping[str, Any]) -> list[re.Pattern[str]]:
    out = []
    for cue in entry.get("cues") or ():
        try:
            out.append(re.compile(str(cue), re.IGNORECASE))
        except re.error:  # a skill's bad cue must not break planning: it never matches
            continue
    return out


def cued_skills(task: str, catalogue: Sequence[Mapping[str, Any]]) -> list[str]:
    """The skills whose cues ``task`` matches, in the order the task names them.

    None when the task only asks about the subject and points at no material of its own.
    """
    if _ABOUT.search(task) and not _OWN_MATERIAL.search(task):
        return []
    found: list[tuple[int, str]] = []
    for entry in catalogue:
        name = str(entry["name"])
        if name in _BUILTIN:
            continue
        starts = [m.start() for c in _cues(entry) if (m := c.search(task))]
        if starts:
            found.append((min(starts), name))
    return [name for _, name in sorted(found)]


_OWN_CODE = re.compile(
    r"\b(in|with|using|write)\s+(python|code|sql|numpy|pandas|a script)\b", re.IGNORECASE
)
"""A task that asks for code ("backtest it in Python") may want steps, not the skill."""
_THEN = re.compile(r"\b(then|after that|afterwards|followed by|and also|as well as)\b", re.I)


def asks_for_more(task: str, catalogue: Sequence[Mapping[str, Any]]) -> bool:
    """The task wants more than its cued skill (and an explanation of the result): a second
    skill's cues, code of its own ("… in Python"), or a later clause ("…, then render a
    video") that is not an explanation."""
    if len(cued_skills(task, catalogue)) > 1 or _OWN_CODE.search(task):
        return True
    clauses = _THEN.split(task)[2::2]  # the text after each sequencing word
    return any(not _EXPLAIN.search(c) for c in clauses)


def skill_shape_for_task(task: str, catalogue: Sequence[Mapping[str, Any]]) -> str | None:
    """The skill shape ``task`` is offered (the first skill it cues), or None."""
    cued = cued_skills(task, catalogue)
    return cued[0] if cued else None


def explains(task: str, catalogue: Sequence[Mapping[str, Any]]) -> bool:
    """A skill shape's plan ends with an ``answer`` that explains the result: the task asks
    to explain, report, summarise or say which (and the catalogue has ``answer``)."""
    has_answer = any(str(e["name"]) == "answer" for e in catalogue)
    return has_answer and bool(_EXPLAIN.search(task))


def skill_of_shape(shape: str, by: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The catalogue entry of a skill shape; None for any other shape."""
    entry = by.get(shape)
    if entry is None or not entry.get("cues") or shape in _BUILTIN:
        return None
    return entry


def skill_shape_help(entry: Mapping[str, Any], explain: bool) -> str:
    """The line of the prompt that offers the skill's shape."""
    what = str(entry.get("description", ""))[:160]
    then = ", then explain its result" if explain else ""
    return (
        f"run the {entry['name']} skill{then} ({what}); write its `inputs` from the task's "
        "words, null for anything the task does not say"
    )


def expand_skill_shape(
    entry: Mapping[str, Any], explain: bool, inputs: Mapping[str, Any] | None, task: str
) -> list[dict[str, Any]]:
    """The steps of a skill shape (``{"skill", "inputs", "capabilities"}``, s1, s2…)."""
    name = str(entry["name"])
    schema = required_kept(entry)
    grounded = ground_inputs(inputs or {}, schema, task)
    first: dict[str, Any] = {"skill": name, "inputs": wire_words(grounded, schema, task)}
    caps = sorted(set(entry.get("capabilities") or ()) & GRANTED)
    if caps:
        first["capabilities"] = caps
    steps = [first]
    if explain:
        fields = list(entry.get("result_fields") or ())
        lines = [f"{f}: ${{s1.output.{f}}}" for f in fields] or ["${s1.output}"]
        context = f"The result of {name}:\n" + "\n".join(lines)
        question = f"Explain the result of this task: {task}"
        steps.append({"skill": "answer", "inputs": {"question": question, "context": context}})
    return steps


def with_skill_inputs(
    schema: dict[str, Any],
    entry: Mapping[str, Any],
    max_string_length: int,
    task: str,
    *,
    free: bool = True,
) -> dict[str, Any]:
    """The planner's schema for a skill shape: ``{"shape": skill, "inputs": {...}}`` (the
    skill's own input schema) or ``{"shape": "steps", "steps": [...]}``, one or the other.

    Servers get the plain object back (``x-sgr-plain``, ``strip_annotations``): strict modes
    want an object at the root, not a choice of two.
    """
    plain = copy.deepcopy(schema)
    inputs = skill_inputs_schema(entry, max_string_length, task)
    cap_schema(inputs, max_string_length)
    props = plain.setdefault("properties", {})
    if "inputs" not in props:
        return plain
    props["inputs"] = {"anyOf": [inputs, {"type": "null"}]}
    variants = []
    choices = [(str(entry["name"]), "inputs")] + ([("steps", "steps")] if free else [])
    for shape, field in choices:
        body = props[field]
        if field == "steps":  # the position-aware tuples, without the null choice
            body = next((b for b in body.get("anyOf", [body]) if b.get("type") != "null"), body)
        else:
            body = inputs
        variants.append(
            {
                "type": "object",
                "properties": {"shape": {"type": "string", "enum": [shape]}, field: body},
                "required": ["shape", field],
                "additionalProperties": False,
            }
        )
    if len(variants) == 1:
        return {**variants[0], "x-sgr-plain": plain}
    return {"anyOf": variants, "x-sgr-plain": plain}
