"""``{name}`` fields in ``%%sgr`` cells: kernel variables filled into a task or a plan.

The rule (docs/jupyter.md, "Braces in cells"):

1. A field is ``{name}`` where ``name`` is a bare Python identifier. ``{a, b}``, ``{x:.2f}``,
   ``{x!r}``, ``{"k": 1}``, ``{1}`` and ``${step.output.x}`` are never fields.
2. Code is never rewritten: a step's ``code`` input is passed exactly as written, and so is
   anything between backticks (inline code and fenced blocks) in a task or a plan's text. So
   f-strings, dict and set literals and format specs in code reach the code as they are.
3. ``{{name}}`` writes a literal ``{name}`` (the escape, outside code).
4. A field naming no kernel variable is an error that says so and shows the escape.

A task is text, so its fields are rendered into the text. A plan is filled in *after* it is
parsed, and only in its values (the run's name, the steps' inputs): kernel data never becomes
plan structure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

__all__ = ["CODE_FIELDS", "interpolate", "interpolate_plan"]

CODE_FIELDS = frozenset({"code"})
"""Step inputs that hold source code: never interpolated."""
_CODE_SPAN = re.compile(r"```[\s\S]*?(?:```|\Z)|`[^`\n]*`")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FIELD = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}|(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")


def interpolate(text: str, namespace: Mapping[str, Any], *, as_plan: bool = False) -> str:
    """Replace ``{name}`` with a kernel variable; ``{{name}}`` writes a literal ``{name}``.

    Only bare identifiers are fields, so plan placeholders (``${a.output.x}``) and YAML flow
    mappings (``{a: 1}``) pass through untouched. In a plan, non-string values are inserted
    as JSON (which YAML reads back with their type).

    Raises:
        UsageError: a field names a variable the kernel does not have.
    """

    def sub(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return "{" + m.group(1) + "}"
        name = m.group(2)
        if name not in namespace:
            raise UsageError(
                f"%%sgr: {{{name}}} is not defined in the kernel; define it first, or write "
                f"{{{{{name}}}}} for a literal {{{name}}}"
            )
        value = namespace[name]
        if as_plan and not isinstance(value, str):
            return json.dumps(value, default=str)
        return str(value)

    parts: list[str] = []
    pos = 0
    for code in _CODE_SPAN.finditer(text):  # code between backticks is left as written
        parts.append(_FIELD.sub(sub, text[pos : code.start()]))
        parts.append(code.group(0))
        pos = code.end()
    parts.append(_FIELD.sub(sub, text[pos:]))
    return "".join(parts)


def _field_value(name: str, namespace: Mapping[str, Any]) -> Any:
    if name not in namespace:
        raise UsageError(
            f"%%sgr: {{{name}}} is not defined in the kernel; define it first, or write "
            f"{{{{{name}}}}} for a literal {{{name}}}"
        )
    return namespace[name]


def _fill(value: Any, namespace: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _FIELD.fullmatch(value)
        if whole and whole.group(2) is not None:
            return _as_data(_field_value(whole.group(2), namespace))
        return interpolate(value, namespace, as_plan=True)
    if isinstance(value, dict):
        # YAML reads an unquoted `{name}` as the mapping {name: null}: treat it as the field.
        if len(value) == 1:
            ((k, v),) = value.items()
            if v is None and isinstance(k, str) and _IDENT.match(k) and k in namespace:
                return _as_data(namespace[k])
        return {k: _fill(v, namespace) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, namespace) for v in value]
    return value


def _as_data(value: Any) -> Any:
    """A kernel value as plain JSON data (so it can only ever be a value in the plan)."""
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError, RecursionError):
        return str(value)


def _fill_inputs(inputs: dict[str, Any], namespace: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v if k in CODE_FIELDS else _fill(v, namespace) for k, v in inputs.items()}


def interpolate_plan(data: Any, namespace: Mapping[str, Any]) -> Any:
    """Fill ``{name}`` fields into a *parsed* plan: the run's ``name`` and the steps' ``inputs``.

    Kernel values only ever become values there: a string that is exactly ``{name}`` takes the
    variable's value (as JSON data), other strings get it rendered in. The plan's structure
    (its steps, skills, dependencies, grants) comes from the cell's own text alone, so a value
    holding a newline and YAML cannot add a step.

    Raises:
        UsageError: a field names a variable the kernel does not have.
    """
    if not isinstance(data, dict):
        return data
    out = dict(data)
    if isinstance(out.get("name"), str):
        out["name"] = str(interpolate(out["name"], namespace))
    steps = out.get("steps")
    if isinstance(steps, list):
        out["steps"] = [
            {**s, "inputs": _fill_inputs(s["inputs"], namespace)}
            if isinstance(s, dict) and isinstance(s.get("inputs"), dict)
            else s
            for s in steps
        ]
    return out
