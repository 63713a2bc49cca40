"""References from one step's inputs to an upstream step's output (docs/architecture.md).

Two spellings, both plain substitution and never a template language:

- ``{"$ref": "STEP.output.FIELD"}`` — the value itself, with its type.
- ``"text ${STEP.output.FIELD} text"`` — the value rendered into the string (JSON for
  non-strings). A string that is exactly one placeholder yields the value with its type.
  ``$${`` writes a literal ``${``.

A path is ``STEP.output`` followed by zero or more keys (names, or integers for list items).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Ref", "RefError", "find_refs", "resolve_inputs"]

_PLACEHOLDER = re.compile(r"(?<!\$)\$\{([^}]*)\}")
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_PATH = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\.output((?:\.[A-Za-z0-9_-]+)*)$")


class RefError(ValueError):
    """A reference is malformed or points at nothing."""


class Ref(BaseModel):
    """A parsed reference: the step it points at and the key path inside its output."""

    model_config = ConfigDict(frozen=True)

    step: str
    path: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Ref:
        m = _PATH.match(text.strip())
        if not m:
            raise RefError(
                f"malformed reference {text!r}: expected STEP.output or STEP.output.FIELD"
            )
        keys = tuple(k for k in m.group(2).split(".") if k)
        return cls(step=m.group(1), path=keys)

    def __str__(self) -> str:
        return ".".join((self.step, "output", *self.path))

    def pick(self, output: Any) -> Any:
        """Follow the path into ``output``; raises :class:`RefError` when a key is missing."""
        value = output
        for key in self.path:
            if isinstance(value, Mapping) and key in value:
                value = value[key]
            elif isinstance(value, list | tuple) and key.lstrip("-").isdigit():
                try:
                    value = value[int(key)]
                except IndexError:
                    raise RefError(f"{self}: index {key} is out of range") from None
            else:
                raise RefError(f"{self}: no key {key!r} in the output of step {self.step!r}")
        return value


def _is_ref_dict(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"$ref"} and isinstance(value["$ref"], str)


def find_refs(value: Any) -> Iterator[Ref | RefError]:
    """Every reference in an input value, in order; malformed ones are yielded as errors."""
    if _is_ref_dict(value):
        try:
            yield Ref.parse(value["$ref"])
        except RefError as e:
            yield e
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from find_refs(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from find_refs(v)
    elif isinstance(value, str):
        for m in _PLACEHOLDER.finditer(value):
            try:
                yield Ref.parse(m.group(1))
            except RefError as e:
                yield e


def _render(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def resolve_inputs(value: Any, outputs: Mapping[str, Any]) -> Any:
    """Substitute every reference in ``value`` from ``outputs`` (step id -> output dict)."""
    if _is_ref_dict(value):
        ref = Ref.parse(value["$ref"])
        return ref.pick(_output_of(ref, outputs))
    if isinstance(value, Mapping):
        return {k: resolve_inputs(v, outputs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve_inputs(v, outputs) for v in value]
    if isinstance(value, str) and "${" in value:
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            ref = Ref.parse(whole.group(1))
            return ref.pick(_output_of(ref, outputs))

        return _substitute(value, outputs)
    return value


def _substitute(text: str, outputs: Mapping[str, Any]) -> str:
    """One pass over the plan's own text: each ``${...}`` becomes its value and each ``$${``
    becomes ``${``. Substituted values are never scanned again, so an upstream output that
    holds ``$${x}`` or ``${a.output.y}`` reaches the next step exactly as it was written."""
    parts: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        parts.append(text[pos : m.start()])
        if m.group(0) == "$${":
            parts.append("${")
        else:
            ref = Ref.parse(m.group(1))
            parts.append(_render(ref.pick(_output_of(ref, outputs))))
        pos = m.end()
    parts.append(text[pos:])
    return "".join(parts)


def _output_of(ref: Ref, outputs: Mapping[str, Any]) -> Any:
    if ref.step not in outputs:
        raise RefError(f"{ref}: step {ref.step!r} has no committed output")
    return outputs[ref.step]
