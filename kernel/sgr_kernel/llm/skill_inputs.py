"""A skill shape's inputs: the schema the model fills, then grounded in the user's words.

The model is asked for the skill's required inputs, the ones the task names and, when the
task names a file, the ones that take a file (:func:`offered_fields`); optional ones are
nullable (null: the skill's default). What it writes is then *grounded*
(:func:`ground_inputs`): an optional value the task neither states nor names is dropped,
so the skill's default applies instead of a number a small model made up. Last, the user's
own words are wired where the model's are not theirs (:func:`wire_words`): the file the
task names, the task itself as a free-text question.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from sgr_kernel.llm.schema_guided import json_schema_for_raw

__all__ = [
    "MAX_ITEMS",
    "cap_schema",
    "ground_inputs",
    "offered_fields",
    "required_kept",
    "skill_inputs_schema",
    "wire_words",
]


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kinds = schema.get("anyOf")
    if isinstance(kinds, list) and any(k.get("type") == "null" for k in kinds):
        return schema
    if schema.get("type") == "null":
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def _optional_nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_optional_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _optional_nullable(v) for k, v in node.items()}
    props = out.get("properties")
    if isinstance(props, dict):
        required = set(out.get("required") or ())
        for name, schema in props.items():
            is_const = "const" in schema or len(schema.get("enum", ())) == 1
            if name not in required and not is_const:
                props[name] = _nullable(schema)
    return out


_FILE = re.compile(r"\b[\w./-]+\.[A-Za-z]{2,8}\b")
_FILEISH = re.compile(r"\b(file|path)\b", re.IGNORECASE)


def offered_fields(entry: Mapping[str, Any], task: str) -> list[str]:
    """The inputs the model is asked for: the required ones, those the task names, and,
    when the task names a file, those that take a file. The rest keep their defaults."""
    schema = dict(entry.get("inputs") or {})
    required = set(schema.get("required") or ())
    t = _Task(task)
    has_file = bool(_FILE.search(task))
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        if (
            name in required
            or t.names(name)
            or (has_file and _takes_file(prop, schema.get("$defs") or {}))
        ):
            out.append(name)
    return out


def _takes_file(prop: Any, defs: Mapping[str, Any], depth: int = 0) -> bool:
    if isinstance(prop, list):
        return any(_takes_file(p, defs, depth) for p in prop)
    if not isinstance(prop, dict) or depth > 4:
        return False
    ref = prop.get("$ref")
    if isinstance(ref, str):
        return _takes_file(defs.get(ref.rsplit("/", 1)[-1], {}), defs, depth + 1)
    if "path" in (prop.get("properties") or {}):
        return True  # an object that names a file (a data spec)
    if prop.get("type") == "string" and _FILEISH.search(str(prop.get("description", ""))):
        return True
    return any(_takes_file(v, defs, depth) for k, v in prop.items() if k != "description")


def skill_inputs_schema(
    entry: Mapping[str, Any], max_string_length: int, task: str | None = None
) -> dict[str, Any]:
    """The skill's input schema as the model fills it: references inlined, every property
    listed (strict servers demand it), optional ones nullable (null: the default). With
    ``task``, only :func:`offered_fields`."""
    raw = copy.deepcopy(dict(entry.get("inputs") or {"type": "object", "properties": {}}))
    if task is not None:
        keep = offered_fields(entry, task)
        raw["properties"] = {k: v for k, v in (raw.get("properties") or {}).items() if k in keep}
    return json_schema_for_raw(_optional_nullable(raw), max_string_length=max_string_length)


_NUMBER = re.compile(r"(?<![A-Za-z_])-?\d+(?:[.,]\d+)?(?![A-Za-z_])")


def _words(name: str) -> str:
    return re.sub(r"[_\-\s]+", " ", name).strip().lower()


def _number(text: str) -> int | float:
    x = float(text.replace(",", "."))
    return int(x) if x.is_integer() and "." not in text and "," not in text else x


class _Task:
    def __init__(self, task: str) -> None:
        self.low = task.lower()
        self.flat = " " + re.sub(r"[_\-\s]+", " ", self.low) + " "
        self.ordered = [_number(n) for n in _NUMBER.findall(task)]
        self.numbers = {float(n) for n in self.ordered}

    def names(self, field: str) -> bool:
        """The task says each word of the field's name (``walk-forward`` names
        ``walk_forward``; "costs of 10 bps" names ``cost_bps``); one-letter names never."""
        words = [w for w in _words(field).split(" ") if len(w) >= 3]
        return bool(words) and all(re.search(rf"\b{re.escape(w)}", self.flat) for w in words)

    def states(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return float(value) in self.numbers
        if isinstance(value, str):
            return bool(value.strip()) and value.strip().lower() in self.low
        if isinstance(value, list):
            return bool(value) and all(self.states(v) for v in value)
        if isinstance(value, dict):
            return bool(value) and all(self.states(v) for v in value.values())
        return False


def ground_inputs(value: Mapping[str, Any], schema: Mapping[str, Any], task: str) -> dict[str, Any]:
    """``value`` without the optional inputs the task's words neither state nor name.

    Kept: required fields, one-value enums (a union's ``kind``), a list or map whose every
    element the task states (a grid of numbers, corpus names), a string the task states (a
    file name), and a valid value of a field the task names (``walk-forward`` names
    ``walk_forward``, "costs" ``cost_bps``). Objects with declared properties are grounded
    field by field; nulls are dropped (the skill's default applies).
    """
    return _ground_object(value, schema, _Task(task))


def _ground_object(
    value: Mapping[str, Any], schema: Mapping[str, Any], t: _Task, content: bool = False
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


def _task_numbers(value: Mapping[str, Any], t: _Task) -> dict[str, Any]:
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
    value: Mapping[str, Any], schema: Mapping[str, Any], t: _Task, content: bool = False
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
    name: str, value: Any, schema: Mapping[str, Any], t: _Task, content: bool = False
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
    t = _Task(task)
    props = schema.get("properties") or {}
    files = [m.group(0) for m in _FILE.finditer(task)]
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


def _spelled_choice(prop: Mapping[str, Any], t: _Task) -> Any:
    """The one choice of an enum whose every word (of four letters or more) the task says."""
    kinds = [k for k in prop.get("anyOf", [prop]) if k.get("type") != "null"]
    choices = [c for k in kinds for c in k.get("enum", ()) if isinstance(c, str)]
    if len(choices) < 2:
        return None
    spelled = []
    for choice in choices:
        words = [w for w in _words(choice).split(" ") if len(w) >= 4]
        if words and all(re.search(rf"\b{re.escape(w)}", t.flat) for w in words):
            spelled.append(choice)
    return spelled[0] if len(spelled) == 1 else None


def _file_string(prop: Mapping[str, Any]) -> bool:
    kinds = [k for k in prop.get("anyOf", [prop]) if k.get("type") != "null"]
    return any(
        k.get("type") == "string" and _FILEISH.search(str(prop.get("description", "")))
        for k in kinds
    )


def _path_branch(prop: Mapping[str, Any]) -> Mapping[str, Any] | None:
    kinds: list[Mapping[str, Any]] = list(prop.get("anyOf", [prop]))
    return next((k for k in kinds if "path" in (k.get("properties") or {})), None)


def _mostly_from(value: Any, t: _Task) -> bool:
    if not isinstance(value, str):
        return False
    words = re.findall(r"[A-Za-z]{4,}", value.lower())
    return bool(words) and sum(w in t.low for w in words) >= 0.6 * len(words)


def required_kept(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's input schema, references inlined, each object's *own* required list kept."""
    raw = copy.deepcopy(dict(entry.get("inputs") or {}))
    defs = raw.pop("$defs", {})

    def inline(node: Any, depth: int = 0) -> Any:
        if isinstance(node, list):
            return [inline(v, depth) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and depth < 8:
            target = defs.get(ref.removeprefix("#/$defs/"), {})
            return inline({**target, **{k: v for k, v in node.items() if k != "$ref"}}, depth + 1)
        out = {k: inline(v, depth) for k, v in node.items()}
        if "oneOf" in out:
            out["anyOf"] = out.pop("oneOf")
        if "const" in out:
            out["enum"] = [out.pop("const")]
        return out

    result: dict[str, Any] = inline(raw)
    return result


MAX_ITEMS = 6
"""Most items of a list the model writes into a skill's inputs (a grid, corpus names): the
grammar spells each allowed length out, so a field bounded by thousands would swamp it."""


MAX_OBJECTS = 3
"""Most records in a list the model writes (a storyboard's scenes): each is many strings."""


def cap_schema(node: Any, bound: int) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and "enum" not in node:
            node["maxLength"] = min(int(node.get("maxLength", bound)), bound)
        if node.get("type") == "array":
            items = node.get("items")
            most = MAX_OBJECTS if isinstance(items, dict) and "properties" in items else MAX_ITEMS
            node["maxItems"] = min(int(node.get("maxItems", most)), most)
        for v in node.values():
            cap_schema(v, bound)
    elif isinstance(node, list):
        for v in node:
            cap_schema(v, bound)
