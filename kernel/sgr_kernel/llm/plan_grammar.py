"""Position-aware references in the planner's schema: step k may refer only to s1 … s(k-1).

The ``steps`` list becomes one tuple per plan length (``prefixItems``), so every position has
its own schema, and each text input of step *k* carries ``x-sgr-refs``: the placeholders it may
contain, ``sJ.output.FIELD`` for every earlier step *J* and every output field a skill of the
catalogue has. The local provider's grammar (``_gbnf.py``) turns the annotation into a string
rule that cannot spell any other ``${…}``: a reference to the step itself, to a later step or
to a field no skill outputs cannot be sampled. (Which skill step *J* runs is decided while
sampling, so the field is checked against that skill afterwards and repaired when it is
obviously wrong, ``plan_repair.py``.) Servers get the plain schema back
(:func:`strip_annotations`): strict modes refuse ``prefixItems``, and a server's own grammar
would not know the annotation.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["PLAIN_KEY", "REFS_KEY", "constrain_steps", "strip_annotations"]

REFS_KEY = "x-sgr-refs"
PLAIN_KEY = "x-sgr-plain"


def _outputs(catalogue: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: list[str] = []
    for entry in catalogue:
        for name in entry.get("outputs") or ():
            if name not in seen:
                seen.append(str(name))
    return seen


def _annotate(node: Any, refs: list[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and "enum" not in node:
            node[REFS_KEY] = list(refs)
        for value in node.values():
            _annotate(value, refs)
    elif isinstance(node, list):
        for value in node:
            _annotate(value, refs)


def _position(item: dict[str, Any], k: int, fields: list[str]) -> dict[str, Any]:
    out = copy.deepcopy(item)
    refs = [f"s{j}.output.{f}" for j in range(1, k) for f in fields]
    for variant in out.get("anyOf", [out]):
        inputs = (variant.get("properties") or {}).get("inputs")
        if inputs is not None:
            _annotate(inputs, refs)
    return out


def constrain_steps(
    schema: dict[str, Any], catalogue: Sequence[Mapping[str, Any]], max_steps: int
) -> dict[str, Any]:
    """A copy of the planner schema whose ``steps`` are position-aware tuples."""
    out = copy.deepcopy(schema)
    steps = (out.get("properties") or {}).get("steps")
    if not isinstance(steps, dict):
        return out
    branches = steps.get("anyOf", [steps])
    fields = _outputs(catalogue)
    for i, branch in enumerate(branches):
        if branch.get("type") != "array" or "items" not in branch:
            continue
        item = branch["items"]
        low = max(1, int(branch.get("minItems", 1)))
        high = int(branch.get("maxItems", max_steps))
        tuples = []
        for n in range(low, high + 1):
            positions = [_position(item, k, fields) for k in range(1, n + 1)]
            tuples.append(
                {
                    "type": "array",
                    "prefixItems": positions,
                    "items": False,
                    "minItems": n,
                    "maxItems": n,
                }
            )
        # Servers get the plain array back (strict modes refuse `prefixItems`).
        branches[i] = {"anyOf": tuples, PLAIN_KEY: branch}
    if "anyOf" not in steps:
        out["properties"]["steps"] = branches[0]
    return out


def strip_annotations(schema: Any) -> Any:
    """``schema`` as a server is sent it: no ``x-sgr-*`` keys, plain arrays for the tuples."""
    if isinstance(schema, dict):
        if PLAIN_KEY in schema:
            return strip_annotations(schema[PLAIN_KEY])
        return {
            k: strip_annotations(v) for k, v in schema.items() if not str(k).startswith("x-sgr")
        }
    if isinstance(schema, list):
        return [strip_annotations(v) for v in schema]
    return schema
