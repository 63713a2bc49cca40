"""The scripted client: replies in order, usage, scripted failures, JSONL files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from sgr_kernel.errors import ConfigError, LLMError, LLMServerError
from sgr_kernel.llm.base import LLMClient, LLMRequest, LLMResponse, Message, Usage
from sgr_kernel.llm.scripted import ScriptedLLM


class Point(BaseModel):
    x: int


REQ = LLMRequest(messages=(Message(role="user", content="12345678"),))


def _ask(llm: ScriptedLLM, **kw: object) -> LLMResponse:
    return asyncio.run(llm.complete(REQ, **kw))  # type: ignore[arg-type]


def test_replies_in_order_in_every_form() -> None:
    llm = ScriptedLLM(
        [
            "plain",
            {"a": 1},
            Point(x=2),
            [1, 2],
            {"text": "with usage", "usage": {"prompt_tokens": 9, "completion_tokens": 1}},
            LLMResponse(text="as is", model="m"),
        ]
    )
    assert isinstance(llm, LLMClient) and llm.name == "scripted"
    texts = [_ask(llm).text for _ in range(6)]
    assert texts == ["plain", '{"a": 1}', '{"x":2}', "[1, 2]", "with usage", "as is"]
    assert len(llm.requests) == 6 and llm.remaining == 0


def test_usage_is_given_or_estimated() -> None:
    llm = ScriptedLLM([{"text": "x", "usage": {"prompt_tokens": 5}}, "abcdefghi"])
    assert _ask(llm).usage == Usage(prompt_tokens=5)
    assert _ask(llm).usage == Usage(prompt_tokens=2, completion_tokens=3)


def test_scripted_exception_is_raised_then_script_continues() -> None:
    llm = ScriptedLLM([LLMServerError("boom"), "after"])
    with pytest.raises(LLMServerError):
        _ask(llm)
    assert _ask(llm).text == "after"


def test_exhausted_script_is_a_clear_non_retryable_error() -> None:
    llm = ScriptedLLM(["only"])
    _ask(llm)
    with pytest.raises(LLMError) as err:
        _ask(llm)
    assert "no reply left" in str(err.value) and "12345678" in str(err.value)
    assert not err.value.retryable


def test_streams_tokens() -> None:
    seen: list[str] = []
    resp = _ask(ScriptedLLM(["one two three"]), on_token=seen.append)
    assert seen == ["one ", "two ", "three"] and "".join(seen) == resp.text


def test_from_file(tmp_path: Path) -> None:
    path = tmp_path / "replies.jsonl"
    lines = [json.dumps({"text": "t", "usage": {"completion_tokens": 2}}), "", json.dumps({"k": 1})]
    path.write_text("\n".join(lines) + "\n")
    llm = ScriptedLLM.from_file(path)
    assert llm.remaining == 2
    assert _ask(llm).usage.completion_tokens == 2
    assert json.loads(_ask(llm).text) == {"k": 1}


def test_from_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('"ok"\n{broken\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2"):
        ScriptedLLM.from_file(path)
    with pytest.raises(ConfigError, match="cannot read"):
        ScriptedLLM.from_file(tmp_path / "missing.jsonl")
