"""A GBNF grammar from a JSON schema that a tiny model cannot escape (notes: backend-spikes §3).

Two fixes over llama-cpp-python's stock converter, both measured (16/24 → 24/24 valid):

1. the stock ``char`` rule admits raw control characters (newlines) inside strings, which
   strict JSON parsers reject: they are excluded;
2. a tiny model loops inside a string until ``max_tokens`` cuts the JSON short: every string
   is bounded by ``maxLength`` (clamped here) so the grammar closes it in time.
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = ["LOCAL_MAX_STRING_LENGTH", "clamp_strings", "grammar_for_schema"]

LOCAL_MAX_STRING_LENGTH = 200
"""Longest string the local model may write; below ``max_tokens`` (one token ≥ one char)."""

_STOCK_CHAR = 'char ::= [^"\\\\]'
_STRICT_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F]'


def clamp_strings(schema: dict[str, Any], limit: int) -> dict[str, Any]:
    """A copy of ``schema`` where every string has ``maxLength`` ≤ ``limit``."""
    out = copy.deepcopy(schema)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "string" and "enum" not in node:
                node["maxLength"] = min(int(node.get("maxLength", limit)), limit)
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    visit(out)
    return out


def grammar_for_schema(schema: dict[str, Any], *, max_string_length: int) -> str:
    """GBNF text for ``schema`` with strict strings and bounded lengths.

    Raises:
        RuntimeError: The converter's ``char`` rule changed shape, so the control-character
            fix cannot be applied (a llama-cpp-python upgrade needs a look).
    """
    from llama_cpp import llama_grammar

    clamped = clamp_strings(schema, max_string_length)
    text: str = llama_grammar.json_schema_to_gbnf(json.dumps(clamped))
    if _STOCK_CHAR not in text:
        raise RuntimeError(
            "llama_cpp's JSON-schema grammar no longer has the rule "
            f"{_STOCK_CHAR!r}; update sgr_kernel/llm/_gbnf.py"
        )
    return text.replace(_STOCK_CHAR, _STRICT_CHAR)
