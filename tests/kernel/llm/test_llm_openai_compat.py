"""The openai_compat provider over real HTTP to a loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field

from sgr_kernel.errors import (
    ConfigError,
    LLMAuthError,
    LLMConnectionError,
    LLMError,
    LLMInvalidOutput,
    LLMRateLimited,
    LLMServerError,
    LLMTimeout,
)
from sgr_kernel.llm.base import LLMClient, LLMRequest, LLMResponse, Message
from sgr_kernel.llm.config import LLMSettings, make_client
from sgr_kernel.llm.openai_compat import OpenAICompatLLM, parse_retry_after
from sgr_kernel.llm.schema_guided import generate, json_schema_for
from sgr_kernel.testing.openai_server import OpenAITestServer, Reply

KEY = "sk-test-key"


class City(BaseModel):
    name: str = Field(max_length=40)
    population: int


@pytest.fixture
def server() -> Iterator[OpenAITestServer]:
    with OpenAITestServer(models=["test-model", "other"], api_key=KEY) as srv:
        yield srv


def _client(srv: OpenAITestServer, **kw: Any) -> OpenAICompatLLM:
    base = {"provider": "openai_compat", "base_url": srv.base_url, "model": "test-model"}
    settings = LLMSettings(**{**base, "api_key": KEY, **kw})
    client = make_client(settings)
    assert isinstance(client, OpenAICompatLLM) and isinstance(client, LLMClient)
    return client


def _req(schema: bool = False) -> LLMRequest:
    return LLMRequest(
        messages=(Message(role="user", content="Largest city of Japan?"),),
        json_schema=json_schema_for(City) if schema else None,
        schema_name="City" if schema else None,
        max_tokens=50,
        seed=1,
    )


def _run(client: OpenAICompatLLM, request: LLMRequest, **kw: Any) -> LLMResponse:
    async def go() -> LLMResponse:
        try:
            return await client.complete(request, **kw)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_structured_call_sends_strict_schema(server: OpenAITestServer) -> None:
    server.add(Reply.json({"name": "Tokyo", "population": 14}, usage=(1000, 500)))
    resp = _run(_client(server, pricing={"test-model": (1.0, 2.0)}), _req(schema=True))
    assert json.loads(resp.text) == {"name": "Tokyo", "population": 14}
    (probe,) = resp.probes  # the first structured call probed the endpoint; it pays for that
    answered = resp.usage.prompt_tokens - probe.usage.prompt_tokens
    assert answered == 1000 and resp.usage.cost_usd - probe.usage.cost_usd == pytest.approx(0.002)
    assert resp.finish_reason == "stop" and resp.model == "test-model"
    body = server.chat_requests[-1]
    rf = body["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
    assert rf["json_schema"]["schema"] == json_schema_for(City)
    assert (body["max_tokens"], body["seed"], body["temperature"]) == (50, 1, 0.0)
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_streaming_tokens_reach_the_callback(server: OpenAITestServer) -> None:
    server.add(Reply.text("Tokyo is the largest"))
    seen: list[str] = []
    resp = _run(_client(server), _req(), on_token=seen.append)
    assert "".join(seen) == resp.text == "Tokyo is the largest" and len(seen) == 4
    assert resp.usage.completion_tokens > 0  # from the final usage chunk
    assert server.chat_requests[-1]["stream"] is True


def test_json_mode_fallback_when_server_lacks_json_schema() -> None:
    with OpenAITestServer(supports_json_schema=False) as srv:
        srv.add(Reply.json({"name": "Osaka", "population": 3}))
        srv.add(Reply.json({"name": "Kyoto", "population": 1}))
        client = _client(srv, api_key=None)

        async def go() -> list[str]:
            first = await client.complete(_req(schema=True))
            second = await client.complete(_req(schema=True))
            await client.aclose()
            return [first.text, second.text]

        texts = asyncio.run(go())
        assert [json.loads(t)["name"] for t in texts] == ["Osaka", "Kyoto"]
        # Probed once: json_schema refused (400), json_object with a schema enforced.
        probes = [b["response_format"]["type"] for b in srv.probe_requests]
        assert probes == ["json_schema", "json_object"]
        kinds = [b["response_format"] for b in srv.chat_requests]
        assert [k["type"] for k in kinds] == ["json_object", "json_object"]  # remembered
        assert kinds[0]["schema"] == json_schema_for(City)
        assert client.json_schema_supported is False and client.mode == "json_object_schema"


def test_schema_violating_json_is_repaired_then_refused(server: OpenAITestServer) -> None:
    server.add(Reply.json({"name": "Tokyo"}), Reply.json({"name": "Tokyo", "population": 14}))
    client = _client(server)
    msgs = [Message(role="user", content="?")]

    async def go() -> Any:
        try:
            first = await generate(client.complete, City, msgs, max_repairs=1)
            server.add(Reply.json({"name": 5}), Reply.text("not even json"))
            with pytest.raises(LLMInvalidOutput, match="City stayed invalid after 2 attempt"):
                await generate(client.complete, City, msgs, max_repairs=1)
            return first
        finally:
            await client.aclose()

    assert asyncio.run(go()).value == City(name="Tokyo", population=14)
    assert len(server.chat_requests) == 4


# -------------------------------------------------------------- the failure taxonomy

FAULTS: list[tuple[str, Reply, type[LLMError], bool]] = [
    ("429", Reply.error(429, "slow down", retry_after="2"), LLMRateLimited, True),
    ("500", Reply.error(500, "kaput"), LLMServerError, True),
    ("503", Reply.error(503, "overloaded"), LLMServerError, True),
    ("malformed", Reply.malformed(), LLMServerError, True),
    ("400", Reply.error(400, "bad request"), LLMError, False),
]


def test_http_faults_become_typed_errors(server: OpenAITestServer) -> None:
    typed = 0
    for label, reply, cls, retryable in FAULTS:
        server.add(reply)
        with pytest.raises(LLMError) as err:
            _run(_client(server), _req())
        assert type(err.value) is cls, label
        assert err.value.retryable is retryable, label
        typed += 1
    server.add(Reply.error(429, retry_after="7"))
    with pytest.raises(LLMRateLimited) as rl:
        _run(_client(server), _req())
    assert rl.value.retry_after_s == 7.0
    typed += 1
    server.add(Reply.truncated_stream("one two three four five six"))
    with pytest.raises(LLMServerError, match="stream ended"):
        _run(_client(server), _req(), on_token=lambda _t: None)
    typed += 1
    with pytest.raises(LLMAuthError) as auth:
        _run(_client(server, api_key="sk-wrong"), _req())
    assert not auth.value.retryable and "sk-wrong" not in str(auth.value)
    typed += 1
    server.add(Reply.slow("late", delay_s=5))
    with pytest.raises(LLMTimeout) as slow:
        _run(_client(server, timeout_s=0.3), _req())
    assert slow.value.retryable
    typed += 1
    with pytest.raises(ConfigError, match="unknown model 'no-such-model'"):
        _run(_client(server, model="no-such-model"), _req())  # checked on the first call
    typed += 1
    with pytest.raises(ConfigError, match="did you mean"):
        _run(_client(server, base_url=server.root_url), _req())
    typed += 1
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    dead = OpenAICompatLLM(
        LLMSettings(provider="openai_compat", base_url=f"http://127.0.0.1:{port}/v1", model="m")
    )
    with pytest.raises(LLMConnectionError) as conn:
        _run(dead, _req())
    assert conn.value.retryable
    typed += 1
    print(f"FIGURE llm_http_faults cases={len(FAULTS) + 7} typed={typed} untyped=0")


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


# -------------------------------------------------------------- configure-time checks


def test_check_lists_models_and_adopts_a_lone_one() -> None:
    with OpenAITestServer(models=["only-one"]) as srv:
        client = OpenAICompatLLM(LLMSettings(provider="openai_compat", base_url=srv.base_url))
        assert client.check() == ["only-one"] and client.model == "only-one"
        client2 = OpenAICompatLLM(LLMSettings(provider="openai_compat", base_url=srv.base_url))
        srv.add(Reply.text("hi"))
        assert _run(client2, _req()).text == "hi"  # resolved lazily on the first call
        assert client2.model == "only-one"


def test_check_explains_bad_configuration(server: OpenAITestServer) -> None:
    with pytest.raises(ConfigError, match=r"did you mean .*/v1"):
        _client(server, base_url=server.root_url).check()
    unknown = _client(server, model="gpt-9")

    async def acheck() -> None:
        try:
            await unknown.acheck()
        finally:
            await unknown.aclose()

    with pytest.raises(ConfigError, match=r"unknown model 'gpt-9'.*test-model"):
        asyncio.run(acheck())
    with pytest.raises(ConfigError, match="refused"):
        _client(server, api_key="sk-bad").check()
    with pytest.raises(ConfigError, match="http://"):
        _client(server, base_url="localhost:1234/v1")
    both = OpenAICompatLLM(
        LLMSettings(provider="openai_compat", base_url=server.base_url, api_key=KEY)
    )  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="set SGR_MODEL"):
        both.check()


def test_repr_hides_the_key(server: OpenAITestServer) -> None:
    client = _client(server)
    assert KEY not in repr(client) and server.base_url in repr(client)
