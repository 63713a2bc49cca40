"""Repair obviously broken references in a model-written plan before asking the model again.

A tiny model writes ``${s2.output.stdout}`` inside step 2 or asks an ``answer`` step for its
``stdout``. Those references cannot mean anything else than "the output of a step before
this one", so they are rewritten instead of costing a replanning round:

- a reference to the step itself, a later step or an unknown step, in step *k* > 1, points
  at step *k-1*; in step 1 (nothing before it) the placeholder is dropped;
- a field the referenced step's skill does not output becomes that skill's main output
  (``text``, ``stdout``, ``value``, in that order of preference, else its first output).

Malformed placeholders and everything else are left for the validator and the model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["main_output", "repair_references"]

_PLACEHOLDER = re.compile(
    r"(?<!\$)\$\{\s*([A-Za-z_][A-Za-z0-9_-]*)\.output((?:\.[A-Za-z0-9_-]+)*)\s*\}"
)
_PREFERRED = ("text", "stdout", "value")


def main_output(outputs: Sequence[str]) -> str | None:
    """The field a reference to a skill's output most likely wants."""
    for name in _PREFERRED:
        if name in outputs:
            return name
    return outputs[0] if outputs else None


def repair_references(
    steps: list[dict[str, Any]], by: Mapping[str, Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Steps (``{"skill", "inputs"}``, s1, s2… in order) with broken references rewritten.

    Returns:
        The repaired steps and one note per repair (for the trace of the planning call).
    """
    notes: list[str] = []
    out: list[dict[str, Any]] = []
    for k, step in enumerate(steps, 1):
        inputs = {}
        for key, value in (step.get("inputs") or {}).items():
            inputs[key] = _repair(value, k, steps, by, notes) if isinstance(value, str) else value
        out.append({**step, "inputs": inputs})
    return out, notes


def _repair(
    text: str,
    k: int,
    steps: Sequence[Mapping[str, Any]],
    by: Mapping[str, Mapping[str, Any]],
    notes: list[str],
) -> str:
    def fix(m: re.Match[str]) -> str:
        target, path = m.group(1), [p for p in m.group(2).split(".") if p]
        j = int(target[1:]) if re.fullmatch(r"s\d+", target) else 0
        if not 1 <= j < k:
            if k == 1:
                notes.append(f"s1: dropped {m.group(0)} (no step comes before s1)")
                return ""
            j = k - 1
        skill = str(steps[j - 1].get("skill", ""))
        outputs = list((by.get(skill) or {}).get("outputs") or ())
        if outputs and path and path[0] not in outputs:
            field = main_output(outputs)
            path = [field] if field else []
        new = "${" + ".".join([f"s{j}", "output", *path]) + "}"
        if new != m.group(0):
            notes.append(f"s{k}: {m.group(0)} -> {new}")
        return new

    return _PLACEHOLDER.sub(fix, text)
