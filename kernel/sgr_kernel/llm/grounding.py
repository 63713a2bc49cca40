"""A skill shape's inputs, grounded in the user's words.

What the model wrote under :func:`~sgr_kernel.llm.skill_inputs.skill_inputs_schema` is
*grounded* (:func:`ground_inputs`): an optional value the task neither states nor names is
dropped, so the skill's default applies instead of a number a small model made up. Then the
user's own words are wired where the model's are not theirs (:func:`wire_words`): the file
the task names, the choice it spells out, the task itself as a free-text question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sgr_kernel.llm.skill_inputs import FILE_NAME, FILEISH, TaskWords, words_of

__all__ = ["ground_inputs", "wire_words"]


def ground_inputs(value: Mapping[str, Any], schema: Mapping[str, Any], task: str) -> dict[str, Any]:
    """``value`` without the optional inputs the task's words neither state nor name.

    Kept: required fields, one-value enums (a union's ``kind``), a list or map whose every
    element the task states (a grid of numbers, corpus names), a string the task states (a
    file name), and a valid value of a field the task names (``walk-forward`` names
    ``walk_forward``, "costs" ``cost_bps``). Objects with declared properties are grounded
    field by field; nulls are dropped (the skill's default applies).
    """
    return _ground_object(value, schema, TaskWords(task))


def _ground_object(
    value: Mapping[str, Any], schema: Mapping[str, Any], t: TaskWords, content: bool = False
) -> dict[str, Any]:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    out: dict[str, Any] = {}
    for name, v in value.items():
        if v is None:
            continue
        sub = _branch(props.get(name) or {}, v)
        item = _branch(sub.get("items") or {}, None) if isinstance(v, list) else {}
        if isinstance(v, dict) and sub.get("properties"):
            record = _task_numbers(v, t) if content else v
            if name in required or _leaves_grounded(record, sub, t, content):
                out[name] = _ground_object(record, sub, t, content)
        elif isinstance(v, list) and item.get("properties"):
            # Records the model composes (a storyboard's scenes): their text is its to
            # write; their settings and numbers are grounded like any other.
            records = [_ground_object(x, item, t, True) for x in v if isinstance(x, dict)]
            if name in required or records:
                out[name] = records
        elif name in required or _is_const(sub) or _grounded(name, v, sub, t, content):
            out[name] = v
    return out


def _task_numbers(value: Mapping[str, Any], t: TaskWords) -> dict[str, Any]:
    """A record's one list of numbers (or one named series of them) that the task does not
    state, as the numbers the task states, in its order, when it states exactly as many:
    "a bar chart of sales 3, 5 and 8" plots 3, 5 and 8, whatever numbers the model wrote."""
    out = dict(value)
    lists = [
        (name, v)
        for name, v in value.items()
        if _numeric_list(v) or (isinstance(v, dict) and len(v) == 1 and _numeric_list(*v.values()))
    ]
    if len(lists) != 1 or len(t.ordered) < 2:
        return out
    name, v = lists[0]
    numbers = v if isinstance(v, list) else next(iter(v.values()))
    if len(numbers) != len(t.ordered) or t.states(numbers):
        return out
    out[name] = list(t.ordered) if isinstance(v, list) else {next(iter(v)): list(t.ordered)}
    return out


def _numeric_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
    )


def _leaves_grounded(
    value: Mapping[str, Any], schema: Mapping[str, Any], t: TaskWords, content: bool = False
) -> bool:
    """An optional object is kept only when the task gives what it requires (a ``file``
    data spec needs the task to state the file's path)."""
    props = schema.get("properties") or {}
    for name in schema.get("required") or ():
        sub = _branch(props.get(name) or {}, value.get(name))
        v = value.get(name)
        if v is None or _is_const(sub):
            continue
        if isinstance(v, dict) and sub.get("properties"):
            if not _leaves_grounded(v, sub, t, content):
                return False
        elif not _grounded(name, v, sub, t, content):
            return False
    return True


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    )


def _grounded(
    name: str, value: Any, schema: Mapping[str, Any], t: TaskWords, content: bool = False
) -> bool:
    if content and _is_text(value) and "enum" not in schema:
        return True  # text inside a record the model composes (a title, bullets, labels)
    if isinstance(value, (dict, list)):
        return t.states(value)  # a grid, a list of names: every element from the task
    if isinstance(value, str):
        return t.states(value)  # a file name, a choice the task spells out
    # A number or a flag: the task names the setting, and the value is a valid one (a
    # number the task states, when it states any).
    if not (t.names(name) and _in_bounds(value, schema)):
        return False
    return isinstance(value, bool) or not t.numbers or t.states(value)


def _in_bounds(value: Any, schema: Mapping[str, Any]) -> bool:
    if "enum" in schema and value not in schema["enum"]:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        x = float(value)
        low, high = schema.get("minimum"), schema.get("maximum")
        above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        return (
            (low is None or x >= float(low))
            and (high is None or x <= float(high))
            and (above is None or x > float(above))
            and (below is None or x < float(below))
        )
    if isinstance(value, str):
        return bool(value.strip()) and len(value) <= int(schema.get("maxLength", len(value)))
    return True


def _is_const(schema: Mapping[str, Any]) -> bool:
    return len(schema.get("enum", ())) == 1


def _branch(schema: Mapping[str, Any], value: Any) -> Mapping[str, Any]:
    """The branch of an ``anyOf`` that ``value`` takes (by a one-value ``kind``-like enum)."""
    kinds: list[Mapping[str, Any]] = [
        k for k in schema.get("anyOf", [schema]) if k.get("type") != "null"
    ]
    if len(kinds) <= 1 or not isinstance(value, dict):
        return kinds[0] if kinds else schema
    for k in kinds:
        props = k.get("properties") or {}
        consts = {n: p["enum"][0] for n, p in props.items() if _is_const(p)}
        if consts and all(value.get(n) == c for n, c in consts.items()):
            return k
    return kinds[0]


def wire_words(inputs: Mapping[str, Any], schema: Mapping[str, Any], task: str) -> dict[str, Any]:
    """The user's own words where the model's are not theirs, as the other shapes do.

    - The first input that takes a file (a string described as a file or path, or a union
      with a ``path`` branch) gets the first file name the task states, unless the model
      already wrote a file name the task states.
    - A choice (an enum) whose words the task says, and no other choice's, is that choice.
    - A required free-text input (a question) whose words are mostly not the task's becomes
      the task itself.
    """
    out = dict(inputs)
    t = TaskWords(task)
    props = schema.get("properties") or {}
    files = [m.group(0) for m in FILE_NAME.finditer(task)]
    for name, prop in props.items():
        if not files:
            break
        value = out.get(name)
        if _file_string(prop):
            if not (isinstance(value, str) and t.states(value)):
                out[name] = files[0]
            break
        branch = _path_branch(prop)
        if branch is not None:
            path = value.get("path") if isinstance(value, dict) else None
            if not (isinstance(path, str) and t.states(path)):
                consts = {
                    k: p["enum"][0]
                    for k, p in (branch.get("properties") or {}).items()
                    if _is_const(p)
                }
                out[name] = {**consts, "path": files[0]}
            break
    for name, prop in props.items():
        spelled = _spelled_choice(prop, t)
        if spelled is not None and (name in out or name in (schema.get("required") or ())):
            out[name] = spelled  # "moving-average crossover" spells ma_crossover
    for name in schema.get("required") or ():
        prop = props.get(name) or {}
        value = out.get(name)
        free = prop.get("type") == "string" and "enum" not in prop and not _file_string(prop)
        if free and not _mostly_from(value, t):
            out[name] = task[: int(prop.get("maxLength", len(task)))]
    return out


def _spelled_choice(prop: Mapping[str, Any], t: TaskWords) -> Any:
    """The one choice of an enum whose every word (of four letters or more) the task says."""
    kinds = [k for k in prop.get("anyOf", [prop]) if k.get("type") != "null"]
    choices = [c for k in kinds for c in k.get("enum", ()) if isinstance(c, str)]
    if len(choices) < 2:
        return None
    spelled = []
    for choice in choices:
        words = [w for w in words_of(choice).split(" ") if len(w) >= 4]
        if words and all(re.search(rf"\b{re.escape(w)}", t.flat) for w in words):
            spelled.append(choice)
    return spelled[0] if len(spelled) == 1 else None


def _file_string(prop: Mapping[str, Any]) -> bool:
    kinds = [k for k in prop.get("anyOf", [prop]) if k.get("type") != "null"]
    return any(
        k.get("type") == "string" and FILEISH.search(str(prop.get("description", "")))
        for k in kinds
    )


def _path_branch(prop: Mapping[str, Any]) -> Mapping[str, Any] | None:
    kinds: list[Mapping[str, Any]] = list(prop.get("anyOf", [prop]))
    return next((k for k in kinds if "path" in (k.get("properties") or {})), None)


def _mostly_from(value: Any, t: TaskWords) -> bool:
    if not isinstance(value, str):
        return False
    words = re.findall(r"[A-Za-z]{4,}", value.lower())
    return bool(words) and sum(w in t.low for w in words) >= 0.6 * len(words)
