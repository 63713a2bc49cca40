"""A GBNF grammar from a JSON schema that a tiny model cannot escape (docs/llm.md).

Three fixes over llama-cpp-python's stock converter:

1. the stock ``char`` rule admits raw control characters (newlines) inside strings, which
   strict JSON parsers reject: they are excluded (measured 16/24 → 24/24 valid);
2. a tiny model loops inside a string until ``max_tokens`` cuts the JSON short: every string
   is bounded by ``maxLength`` so the grammar closes it in time;
3. the converter writes a bound of N as N nested optional groups, which llama.cpp's grammar
   parser refuses above about a thousand ("exceeds sane defaults") and then crashes on: the
   nesting is rewritten as the flat repetition ``char{m,n}``, so a field keeps the bound it
   declares (code: thousands of characters).
"""

from __future__ import annotations

import json
import re
from typing import Any

from sgr_kernel.llm._schema_edit import edit_strings

__all__ = [
    "LOCAL_MAX_DECLARED_LENGTH",
    "LOCAL_MAX_STRING_LENGTH",
    "clamp_strings",
    "flatten_repetitions",
    "grammar_for_schema",
]

LOCAL_MAX_STRING_LENGTH = 200
"""Bound of a string the schema leaves unbounded; below ``max_tokens`` (one token ≥ one char)."""
LOCAL_MAX_DECLARED_LENGTH = 1500
"""Ceiling of a declared ``maxLength`` (code may be long; the grammar's size grows with it)."""

_STOCK_CHAR = 'char ::= [^"\\\\]'
_STRICT_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F]'


def clamp_strings(
    schema: dict[str, Any], limit: int, ceiling: int = LOCAL_MAX_DECLARED_LENGTH
) -> dict[str, Any]:
    """A copy of ``schema`` where every string is bounded.

    A string without ``maxLength`` gets ``limit``; a declared one keeps its bound up to
    ``ceiling``, so each field keeps the room it needs (code, unlike a title, is long).
    """

    def bound(node: dict[str, Any]) -> None:
        if "enum" not in node:
            declared = node.get("maxLength")
            node["maxLength"] = limit if declared is None else min(int(declared), ceiling)

    return edit_strings(schema, bound)


# `char char (char (char (char)?)?)?` = two required, three optional: char{2,5}.
_NESTED = re.compile(r"((?:char )*)((?:\(char )*)\(char\)\?((?:\)\?)*)")


def _flat(m: re.Match[str]) -> str:
    required = m.group(1).count("char")
    optional = m.group(2).count("(char") + 1
    if m.group(3).count(")?") != optional - 1:  # not the converter's shape: leave it
        return m.group(0)
    return f"char{{{required},{required + optional}}}"


def flatten_repetitions(gbnf: str) -> str:
    """Rewrite the converter's nested optional ``char`` groups as ``char{m,n}``."""
    return _NESTED.sub(_flat, gbnf)


def grammar_for_schema(schema: dict[str, Any], *, max_string_length: int) -> str:
    """GBNF text for ``schema`` with strict strings and bounded lengths.

    Raises:
        RuntimeError: The converter's ``char`` rule changed shape, so the control-character
            fix cannot be applied (a llama-cpp-python upgrade needs a look).
    """
    from llama_cpp import llama_grammar

    clamped = clamp_strings(schema, max_string_length)
    refs: list[tuple[list[str], int]] = []
    marked = _mark_refs(clamped, refs, max_string_length)
    text: str = llama_grammar.json_schema_to_gbnf(json.dumps(marked))
    if "char ::=" in text and _STOCK_CHAR not in text:
        raise RuntimeError(
            "llama_cpp's JSON-schema grammar no longer has the rule "
            f"{_STOCK_CHAR!r}; update sgr_kernel/llm/_gbnf.py"
        )
    text = flatten_repetitions(text.replace(_STOCK_CHAR, _STRICT_CHAR))
    for i, (allowed, bound) in enumerate(refs):
        text = text.replace(_gbnf_literal(_marker(i)), f"sgr-ref-{i}")
        text += _ref_rules(i, allowed, bound)
    return text


# A string annotated with `x-sgr-refs` (plan_grammar.py) may contain only those ${...}
# placeholders: it is swapped for a marker literal before conversion, and the marker for a
# rule of its own afterwards.
_REFS_KEY = "x-sgr-refs"
_PLAIN = r'[^"\\$\x7F\x00-\x1F]'
_ESCAPE = r'"\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])'
_DOLLAR = r'"$" [^{"\\\x7F\x00-\x1F]'


def _marker(i: int) -> str:
    return f"<<SGRREF:{i}>>"


def _gbnf_literal(text: str) -> str:
    return '"\\"' + text + '\\""'


def _mark_refs(node: Any, refs: list[tuple[list[str], int]], default: int) -> Any:
    if isinstance(node, list):
        return [_mark_refs(v, refs, default) for v in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") == "string" and _REFS_KEY in node:
        refs.append(([str(r) for r in node[_REFS_KEY]], int(node.get("maxLength", default))))
        return {"enum": [_marker(len(refs) - 1)]}
    return {
        k: _mark_refs(v, refs, default)
        for k, v in node.items()
        if k not in (_REFS_KEY, "x-sgr-plain")
    }


def _ref_rules(i: int, allowed: list[str], bound: int) -> str:
    items = [_PLAIN, _ESCAPE, _DOLLAR]
    if allowed:
        names = " | ".join(json.dumps(r) for r in allowed)
        items.append(f'"${{" ({names}) "}}"')
    alternatives = " | ".join(items)
    return (
        f'\nsgr-ref-{i} ::= "\\"" sgr-ref-{i}-item{{0,{bound}}} "\\"" space\n'
        f"sgr-ref-{i}-item ::= {alternatives}\n"
    )
