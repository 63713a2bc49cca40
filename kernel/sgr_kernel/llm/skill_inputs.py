"""A skill shape's inputs: the schema the model fills.

The model is asked for the skill's required inputs, the ones the task names and, when the
task names a file, the ones that take a file (:func:`offered_fields`); optional ones are
nullable (null: the skill's default); lists and nested records are capped so a small model
cannot run on (:func:`cap_schema`). What it writes is then grounded in the user's words
(``grounding.py``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from sgr_kernel.llm.schema_guided import json_schema_for_raw

__all__ = [
    "FILEISH",
    "FILE_NAME",
    "MAX_ITEMS",
    "TaskWords",
    "cap_schema",
    "offered_fields",
    "required_kept",
    "skill_inputs_schema",
    "words_of",
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


FILE_NAME = re.compile(r"\b[\w./-]+\.[A-Za-z]{2,8}\b")
FILEISH = re.compile(r"\b(file|path)\b", re.IGNORECASE)


_NUMBER = re.compile(r"(?<![A-Za-z_])-?\d+(?:[.,]\d+)?(?![A-Za-z_])")


def words_of(name: str) -> str:
    return re.sub(r"[_\-\s]+", " ", name).strip().lower()


def _number(text: str) -> int | float:
    x = float(text.replace(",", "."))
    return int(x) if x.is_integer() and "." not in text and "," not in text else x


class TaskWords:
    """What a task says: its words (lower-cased, ``_``/``-`` as spaces) and the numbers it
    states, in order and as a set."""

    def __init__(self, task: str) -> None:
        self.low = task.lower()
        self.flat = " " + re.sub(r"[_\-\s]+", " ", self.low) + " "
        self.ordered = [_number(n) for n in _NUMBER.findall(task)]
        self.numbers = {float(n) for n in self.ordered}

    def names(self, field: str) -> bool:
        """The task says each word of the field's name (``walk-forward`` names
        ``walk_forward``; "costs of 10 bps" names ``cost_bps``); one-letter names never."""
        words = [w for w in words_of(field).split(" ") if len(w) >= 3]
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


def offered_fields(entry: Mapping[str, Any], task: str) -> list[str]:
    """The inputs the model is asked for: the required ones, those the task names, and,
    when the task names a file, those that take a file. The rest keep their defaults."""
    schema = dict(entry.get("inputs") or {})
    required = set(schema.get("required") or ())
    t = TaskWords(task)
    has_file = bool(FILE_NAME.search(task))
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
    if prop.get("type") == "string" and FILEISH.search(str(prop.get("description", ""))):
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
