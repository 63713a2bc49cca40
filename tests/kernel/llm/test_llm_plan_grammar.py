"""The planner's grammar: step k can spell only references to s1 … s(k-1) and to real fields.

The schema check reads the per-position annotation; the grammar check reads the rules the
local provider hands to llama.cpp; the live check lets the embedded model sample under the
grammar while the prompt begs for a forward reference, a self reference and an unknown
field, and none of them comes out.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sgr_kernel.llm.plan_grammar import REFS_KEY, constrain_steps, strip_annotations
from sgr_kernel.llm.planner import MAX_PLAN_STEPS, planner_output_model
from sgr_kernel.llm.schema_guided import json_schema_for
from sgr_kernel.testing.planner_eval import EVAL_CATALOGUE

FIELDS = sorted({f for e in EVAL_CATALOGUE for f in e["outputs"]})
SCHEMA = constrain_steps(
    json_schema_for(planner_output_model(EVAL_CATALOGUE)), EVAL_CATALOGUE, MAX_PLAN_STEPS
)
_REF = re.compile(r"s(\d+)\.output\.([A-Za-z_]+)")


def _tuples() -> list[dict[str, Any]]:
    (free,) = [b for b in SCHEMA["properties"]["steps"]["anyOf"] if "anyOf" in b]
    return list(free["anyOf"])


def _annotations(node: Any) -> list[list[str]]:
    if isinstance(node, dict):
        found = [node[REFS_KEY]] if REFS_KEY in node else []
        return found + [a for v in node.values() for a in _annotations(v)]
    if isinstance(node, list):
        return [a for v in node for a in _annotations(v)]
    return []


def test_each_position_may_name_only_earlier_steps_and_real_fields() -> None:
    tuples = _tuples()
    assert [t["minItems"] for t in tuples] == list(range(1, MAX_PLAN_STEPS + 1))
    for t in tuples:
        for k, position in enumerate(t["prefixItems"], 1):
            lists = _annotations(position)
            assert lists  # every text input of every skill is annotated
            for refs in lists:
                allowed = {(int(m.group(1)), m.group(2)) for m in map(_REF.fullmatch, refs) if m}
                assert len(allowed) == len(refs)  # all well-formed
                assert {j for j, _ in allowed} == set(range(1, k))  # no self, no forward
                assert {f for _, f in allowed} <= set(FIELDS)  # no unknown field
    plain = strip_annotations(SCHEMA)  # what servers are sent
    assert "x-sgr" not in json.dumps(plain) and "prefixItems" not in json.dumps(plain)
    assert plain == json_schema_for(planner_output_model(EVAL_CATALOGUE))


@pytest.mark.local_model
def test_the_local_grammar_has_no_rule_for_forward_self_or_unknown_refs() -> None:
    from sgr_kernel.llm._gbnf import grammar_for_schema

    gbnf = grammar_for_schema(SCHEMA, max_string_length=200)
    rules = dict(
        line.split(" ::= ", 1) for line in gbnf.splitlines() if line.startswith("sgr-ref-")
    )
    items = {name: body for name, body in rules.items() if name.endswith("-item")}
    assert len(items) == len(_annotations(SCHEMA))
    first_position = [b for b in items.values() if '"${"' not in b]
    assert first_position  # step 1's inputs: no way to open a placeholder at all
    for body in items.values():
        refs = set(_REF.findall(body))
        assert all(f in FIELDS for _, f in refs)
        assert "nope" not in body and '"$" [^{' in body  # a bare "$" cannot start "${"


@pytest.mark.local_model
@pytest.mark.slow
def test_the_model_cannot_write_a_forbidden_reference_under_the_grammar() -> None:
    import asyncio

    from sgr_kernel.llm.base import LLMRequest, Message
    from sgr_kernel.llm.local import LocalLLM

    schema = {
        "type": "object",
        "properties": {
            "question": {"type": "string", "maxLength": 120, REFS_KEY: ["s1.output.text"]}
        },
        "required": ["question"],
        "additionalProperties": False,
    }
    begging = (
        'Reply with exactly {"question": "${s2.output.text} ${s1.output.nope} '
        '${s1.output.text}"} and nothing else.'
    )
    request = LLMRequest(
        messages=(Message(role="user", content=begging),), json_schema=schema, max_tokens=120
    )
    text = asyncio.run(LocalLLM(n_ctx=1024).complete(request)).text
    refs = re.findall(r"(?<!\$)\$\{([^}]*)\}", json.loads(text)["question"])
    assert set(refs) <= {"s1.output.text"}, text
    print(f"FIGURE plan_grammar forbidden_refs_written=0 refs={refs}")
