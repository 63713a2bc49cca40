"""Structured-output capability detection against the documented behaviour of real servers.

Servers that cannot run here (Ollama, vLLM) are played back by the loopback test server from
recorded response bodies, shaped as their documentation and error handlers produce them:

- llama-cpp-python's server: ``json_schema`` is a pydantic literal error answered with HTTP
  500; ``json_object`` with a ``schema`` becomes a grammar (also tested live in
  ``test_llm_server_conformance.py``);
- vLLM before structured outputs: ``json_schema`` fails request validation with 400 in vLLM's
  flat error body (``{"object": "error", "message": …}``), JSON mode has no schema, and
  ``tools``/``tool_choice`` are not supported;
- vLLM with structured outputs and Ollama ≥ 0.5 enforce ``json_schema`` (guided decoding,
  llama.cpp grammars);
- hosted Ollama accepts ``json_schema`` without enforcing it (HTTP 200, free text) while a
  forced tool call works;
- a FastAPI server that validates ``response_format`` answers 422.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from sgr_kernel.errors import LLMServerError
from sgr_kernel.llm import endpoints
from sgr_kernel.llm.base import LLMRequest, Message
from sgr_kernel.llm.config import LLMSettings
from sgr_kernel.llm.openai_compat import OpenAICompatLLM
from sgr_kernel.llm.schema_guided import generate, json_schema_for
from sgr_kernel.llm.structured import PROBE_VALUE, is_capability_refusal
from sgr_kernel.testing.openai_server import OpenAITestServer, Reply, request_mode

OK = Reply.json({"probe": PROBE_VALUE})
CHATTY = Reply.text("Hello! How can I help you today?")

LLAMA_CPP_500 = Reply(
    "error",
    status=500,
    body=json.dumps(
        {
            "error": {
                "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
                "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", "
                "'input': 'json_schema'}",
                "type": "internal_server_error",
            }
        }
    ),
)
VLLM_OLD_400 = Reply(
    "error",
    status=400,
    body=json.dumps(
        {
            "object": "error",
            "message": "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
            "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}]",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
    ),
)
VLLM_OLD_TOOLS_400 = Reply(
    "error",
    status=400,
    body=json.dumps(
        {
            "object": "error",
            "message": "tools and tool_choice are not supported by this server",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
    ),
)
FASTAPI_422 = Reply(
    "error",
    status=422,
    body=json.dumps(
        {
            "detail": [
                {
                    "type": "literal_error",
                    "loc": ["body", "response_format", "type"],
                    "msg": "Input should be 'text' or 'json_object'",
                }
            ]
        }
    ),
)

Dialect = dict[str, Reply]
DIALECTS: dict[str, tuple[Dialect, str]] = {
    "llama-cpp-python": (
        {"json_schema": LLAMA_CPP_500, "json_object_schema": OK},
        "json_object_schema",
    ),
    "vllm-0.5": (
        {
            "json_schema": VLLM_OLD_400,
            "json_object_schema": Reply.json({"greeting": "hello"}),  # JSON mode, no schema
            "tool_call": VLLM_OLD_TOOLS_400,
        },
        "prompt",
    ),
    "vllm-structured-outputs": ({"json_schema": OK}, "json_schema"),
    "ollama-0.5": ({"json_schema": OK}, "json_schema"),
    "ollama-hosted": (
        {
            "json_schema": CHATTY,
            "json_object_schema": Reply.json({"hello": "world"}),
            "tool_call": OK,
        },
        "tool_call",
    ),
    "fastapi-422": ({"json_schema": FASTAPI_422, "json_object_schema": OK}, "json_object_schema"),
}


class City(BaseModel):
    name: str = Field(max_length=40)
    population: int


def _responder(dialect: Dialect) -> Callable[[dict[str, Any]], Reply]:
    return lambda body: dialect.get(request_mode(body), CHATTY)


def _client(srv: OpenAITestServer, **kw: Any) -> OpenAICompatLLM:
    settings = LLMSettings(
        provider="openai_compat", base_url=srv.base_url, model="test-model", **kw
    )
    return OpenAICompatLLM(settings)


def _ask(client: OpenAICompatLLM, **kw: Any) -> str:
    async def go() -> str:
        try:
            messages = [Message(role="user", content="Largest city of Japan?")]
            out = await generate(client.complete, City, messages, max_repairs=0)
            return out.value.name
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_each_dialect_gets_its_strongest_enforced_mode(name: str, sgr_home: Path) -> None:
    dialect, expected = DIALECTS[name]
    with OpenAITestServer(probe=_responder(dialect)) as srv:
        srv.add(Reply.json({"name": "Tokyo", "population": 14}))
        client = _client(srv)
        assert _ask(client) == "Tokyo"
        assert client.mode == expected
        body = srv.chat_requests[-1]
        assert request_mode(body) == expected
        if expected == "prompt":  # the schema went into the system prompt instead
            assert "population" in body["messages"][0]["content"]
        cached = endpoints.load(srv.base_url, "test-model", sgr_home / "endpoints.json")
        assert cached is not None and cached.mode == expected
        probed = [request_mode(b) for b in srv.probe_requests]
        stronger = ["json_schema", "json_object_schema", "tool_call"]
        assert (
            probed == stronger[: stronger.index(expected) + 1] if expected != "prompt" else stronger
        )
        print(f"FIGURE dialect={name} mode={expected} probes={len(probed)}")


def test_the_choice_is_cached_per_endpoint_across_clients() -> None:
    dialect, _ = DIALECTS["llama-cpp-python"]
    with OpenAITestServer(probe=_responder(dialect)) as srv:
        srv.add(Reply.json({"name": "Osaka", "population": 3}))
        srv.add(Reply.json({"name": "Kyoto", "population": 1}))
        assert _ask(_client(srv)) == "Osaka"
        probes = len(srv.probe_requests)
        second = _client(srv)  # a new process would read the same file
        assert _ask(second) == "Kyoto"
        assert len(srv.probe_requests) == probes == 2  # no second probe
        assert second.endpoint is not None and second.endpoint.tried["json_schema"].startswith(
            "refused (500"
        )


def test_a_later_refusal_steps_down_and_retries() -> None:
    # The probe passed, but a real request (a schema feature the server lacks) is refused.
    with OpenAITestServer(probe=lambda body: OK) as srv:
        srv.add(LLAMA_CPP_500, Reply.json({"name": "Nagoya", "population": 2}))
        client = _client(srv)
        assert _ask(client) == "Nagoya"
        assert [request_mode(b) for b in srv.chat_requests] == ["json_schema", "json_object_schema"]
        assert client.mode == "json_object_schema"


def test_an_unrelated_500_is_a_server_error_not_a_step_down() -> None:
    with OpenAITestServer(probe=lambda body: OK) as srv:
        srv.add(Reply.error(500, "CUDA out of memory"))
        client = _client(srv)
        with pytest.raises(LLMServerError, match="out of memory"):
            _ask(client)
        assert client.mode == "json_schema"


def test_forced_tool_call_answers_plain_and_streamed() -> None:
    with OpenAITestServer() as srv:
        srv.add(Reply.json({"name": "Sapporo", "population": 2}))
        srv.add(Reply.json({"name": "Kobe", "population": 1}))
        client = _client(srv, structured_output="tool_call")
        request = LLMRequest(
            messages=(Message(role="user", content="A city?"),),
            json_schema=json_schema_for(City),
            schema_name="City",
        )
        seen: list[str] = []

        async def go() -> list[str]:
            plain = await client.complete(request)
            streamed = await client.complete(request, on_token=seen.append)
            await client.aclose()
            return [plain.text, streamed.text]

        plain, streamed = asyncio.run(go())
        assert json.loads(plain)["name"] == "Sapporo"
        assert json.loads(streamed)["name"] == "Kobe" and seen == [streamed]  # one piece
        assert srv.probe_requests == []  # configured, never probed
        assert [b.get("stream") for b in srv.chat_requests] == [None, None]
        assert all(b["tool_choice"]["function"]["name"] == "City" for b in srv.chat_requests)


@pytest.mark.parametrize(
    ("status", "message", "refusal"),
    [
        (500, "Input should be 'text' or 'json_object' at response_format.type", True),
        (400, "response_format json_schema is not supported", True),
        (422, "body.response_format: unexpected value", True),
        (400, "tool_choice must be 'auto' or 'none'", True),
        (500, "CUDA error: out of memory", False),
        (503, "response_format busy", False),
        (400, "messages: at least one message is required", False),
    ],
)
def test_capability_refusals_are_read_from_the_message(
    status: int, message: str, refusal: bool
) -> None:
    assert is_capability_refusal(status, message) is refusal
