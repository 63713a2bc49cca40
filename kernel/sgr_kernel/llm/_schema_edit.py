"""Edits to a JSON schema's string fields, made on a copy (what a model server is sent)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

__all__ = ["edit_strings"]


def edit_strings(schema: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A deep copy of ``schema`` with ``edit`` applied, in place, to every string node
    (``{"type": "string", ...}``) at any depth."""
    out = copy.deepcopy(schema)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "string":
                edit(node)
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    visit(out)
    return out
