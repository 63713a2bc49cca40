"""Endpoint probes are part of the run: they are in the trace and the budget pays for them.

The first structured call to an endpoint sends capability probes before its real request. The
response carries them (``LLMResponse.probes``) and their usage is already in its ``usage``, so
the WAL records them with the call and the token meter counts what the server billed. Calls
that start together share one round of probes.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sgr_kernel.engine.base import RunConfig
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.llm.base import LLMRequest, Message
from sgr_kernel.llm.config import LLMSettings
from sgr_kernel.llm.openai_compat import OpenAICompatLLM
from sgr_kernel.models.status import RunStatus
from sgr_kernel.testing.openai_server import OpenAITestServer, Reply
from sgr_kernel.trace.base import RecordType
from sgr_skills.answer import AnswerSkill

SHAPE_ANSWER = {"shape": "answer", "before": None, "after": None, "steps": None}
ANSWER = {"reasoning": "The capital of France is Paris.", "answer": "Paris"}


def _settings(srv: OpenAITestServer) -> LLMSettings:
    return LLMSettings(provider="openai_compat", base_url=srv.base_url, model="test-model")


def _server_tokens(srv: OpenAITestServer) -> int:
    """What the server billed, recomputed the way it does for every request it answered."""
    total = 0
    for req in srv.requests:
        if req.body and req.path.endswith("/chat/completions"):
            msgs = req.body.get("messages") or []
            total += sum(max(1, len(str(m.get("content", ""))) // 4) for m in msgs)
    return total


def test_probes_are_traced_and_budgeted(tmp_path: Path) -> None:
    # This server refuses nothing it is asked but obeys only a forced tool call: two probes
    # are answered "ignored" and one "enforced" before the first real request.
    with OpenAITestServer(
        [Reply.json(SHAPE_ANSWER), Reply.json(ANSWER)], enforces={"tool_call"}
    ) as srv:
        llm = OpenAICompatLLM(_settings(srv))
        kernel = Kernel(
            KernelConfig(home=tmp_path, run=RunConfig(approval_mode="auto")),
            skills={"answer": AnswerSkill},
            llm=llm,
        )

        async def go() -> Any:
            try:
                handle = await kernel.start(task="What is the capital of France?")
                return await handle.wait()
            finally:
                await llm.aclose()

        result = asyncio.run(go())
        assert result.status is RunStatus.COMPLETED, result.reason
        assert kernel.store is not None
        records = kernel.store.read(result.run_id).records
        responses = [
            r.data["response"]
            for r in records
            if r.type is RecordType.RESULT and r.data.get("kind") == "llm" and r.data.get("ok")
        ]
        traced = [p for resp in responses for p in resp.get("probes", [])]
        assert [p["mode"] for p in traced] == ["json_schema", "json_object_schema", "tool_call"]
        assert len(srv.probe_requests) == len(traced)  # every probe sent is in the trace
        assert traced[-1]["verdict"] == "enforced"
        probe_tokens = sum(
            p["usage"]["prompt_tokens"] + p["usage"]["completion_tokens"] for p in traced
        )
        assert probe_tokens > 0
        metered = sum(int(r.data.get("tokens", 0)) for r in records if r.type is RecordType.USAGE)
        answered = sum(
            resp["usage"]["prompt_tokens"] + resp["usage"]["completion_tokens"]
            for resp in responses
        )
        assert metered == answered  # the meter counts each response's usage, probes included
        print(
            f"FIGURE probes traced={len(traced)} sent={len(srv.probe_requests)} "
            f"probe_tokens={probe_tokens} metered_tokens={metered}"
        )

        replayed = asyncio.run(kernel.replay(result.run_id, strict=True))
        assert replayed.ok and replayed.live_calls == 0
        assert len(srv.probe_requests) == len(traced)  # replay sent nothing


def test_calls_that_start_together_share_one_round_of_probes(sgr_home: Path) -> None:
    replies = [Reply.json({"answer": str(i)}) for i in range(6)]
    with OpenAITestServer(replies, enforces={"json_object_schema"}) as srv:
        client = OpenAICompatLLM(_settings(srv))
        schema = {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
        }
        request = LLMRequest(
            messages=(Message(role="user", content="Pick a number."),), json_schema=schema
        )

        async def go() -> list[Any]:
            try:
                return list(await asyncio.gather(*(client.complete(request) for _ in range(6))))
            finally:
                await client.aclose()

        responses = asyncio.run(go())
        assert sorted(json.loads(r.text)["answer"] for r in responses) == [str(i) for i in range(6)]
        with_probes = [r for r in responses if r.probes]
        assert len(with_probes) == 1  # one call probed; the other five waited for its verdict
        assert [p.mode for p in with_probes[0].probes] == ["json_schema", "json_object_schema"]
        assert len(srv.probe_requests) == 2
