"""Schema-guided generation: strict-friendly schemas, validation, the bounded repair loop."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from sgr_kernel.errors import LLMInvalidOutput, LLMRateLimited
from sgr_kernel.llm.base import Message, Usage
from sgr_kernel.llm.schema_guided import generate, json_schema_for, parse_output
from sgr_kernel.llm.scripted import ScriptedLLM


class Inner(BaseModel):
    note: str
    tags: list[str] = Field(default_factory=list, max_length=3)


class Answer(BaseModel):
    thought: str = Field(max_length=50)
    action: Literal["run_python", "final_answer"]
    code: str | None = None
    inner: Inner
    count: int = 3


def _walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for v in node.values():
            found += _walk(v)
    elif isinstance(node, list):
        for v in node:
            found += _walk(v)
    return found


MSGS = [Message(role="user", content="do it")]
GOOD = {"thought": "t", "action": "final_answer", "code": None, "inner": {"note": "n", "tags": []}}


def test_schema_is_strict_friendly() -> None:
    schema = json_schema_for(Answer)
    nodes = _walk(schema)
    assert "$defs" not in schema and not any("$ref" in n for n in nodes)
    objects = [n for n in nodes if n.get("type") == "object"]
    assert len(objects) == 2
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    strings = [n for n in nodes if n.get("type") == "string"]
    assert strings and all("maxLength" in s or "enum" in s for s in strings)
    assert schema["properties"]["thought"]["maxLength"] == 50  # a tighter bound is kept
    assert schema["properties"]["action"]["enum"] == ["run_python", "final_answer"]
    assert not any("title" in n or "default" in n for n in nodes)


def test_first_valid_answer_is_returned_with_usage() -> None:
    llm = ScriptedLLM([{"text": json.dumps(GOOD), "usage": {"prompt_tokens": 7}}])
    result = asyncio.run(generate(llm.complete, Answer, MSGS, request_defaults={"seed": 4}))
    assert result.value.action == "final_answer" and result.value.count == 3
    assert result.attempts == 1 and result.usage == Usage(prompt_tokens=7)
    req = llm.requests[0]
    assert req.schema_name == "Answer" and req.seed == 4
    assert req.json_schema == json_schema_for(Answer)


def test_repair_sends_errors_back_and_sums_usage() -> None:
    bad = {**GOOD, "action": "dance"}
    llm = ScriptedLLM(
        [
            {"text": "not json at all", "usage": {"prompt_tokens": 1, "completion_tokens": 2}},
            {"text": json.dumps(bad), "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
            {"text": "```json\n" + json.dumps(GOOD) + "\n```", "usage": {"prompt_tokens": 5}},
        ]
    )
    result = asyncio.run(generate(llm.complete, Answer, MSGS, max_repairs=2))
    assert result.attempts == 3 and len(result.responses) == 3
    assert result.usage == Usage(prompt_tokens=9, completion_tokens=6)
    second, third = llm.requests[1].messages, llm.requests[2].messages
    assert second[-2] == Message(role="assistant", content="not json at all")
    assert "not valid JSON" in second[-1].content
    assert "action" in third[-1].content and "final_answer" in third[-1].content
    assert third[: len(second)] == second  # the conversation only grows


def test_invalid_after_last_repair_raises_typed_error() -> None:
    replies = ["{}", '{"thought": 1}', "[1, 2]", "never read"]
    llm = ScriptedLLM(replies)
    with pytest.raises(LLMInvalidOutput) as err:
        asyncio.run(generate(llm.complete, Answer, MSGS, max_repairs=2))
    assert len(llm.requests) == 3 and llm.remaining == 1
    assert "3 attempt(s)" in str(err.value) and not err.value.retryable
    print(f"FIGURE schema_repair attempts={len(llm.requests)} raised={type(err.value).__name__}")


def test_provider_errors_pass_through_untouched() -> None:
    llm = ScriptedLLM([LLMRateLimited("slow down", retry_after_s=2.0)])
    with pytest.raises(LLMRateLimited) as err:
        asyncio.run(generate(llm.complete, Answer, MSGS))
    assert err.value.retry_after_s == 2.0


def test_same_responses_same_result() -> None:
    def run() -> Any:
        llm = ScriptedLLM(["oops", json.dumps(GOOD)])
        result = asyncio.run(generate(llm.complete, Answer, MSGS))
        return result.value, [r.fingerprint() for r in llm.requests]

    assert run() == run()


def test_parse_output_accepts_prose_wrapped_json() -> None:
    value, problems = parse_output(Inner, 'Sure! {"note": "x", "tags": ["a"]} Hope this helps.')
    assert problems == [] and value == Inner(note="x", tags=["a"])
    value, problems = parse_output(Inner, '{"note": "x", "tags": ["a", "b", "c", "d"]}')
    assert value is None and problems[0].startswith("tags:")
