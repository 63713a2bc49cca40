"""Server conformance: the openai_compat provider against a real llama-cpp-python server.

One ``llama_cpp.server`` per test session (``conftest.py``) serves the embedded SmolLM2 GGUF
on loopback. Each structured call kind the kernel makes (a plan, an answer, code for the
code interpreter) goes through the provider over real HTTP, plain and streamed, and
``sgr run "task"`` completes against it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from sgr_kernel.llm import endpoints
from sgr_kernel.llm.base import LLMRequest, LLMResponse, Message
from sgr_kernel.llm.config import LLMSettings
from sgr_kernel.llm.openai_compat import OpenAICompatLLM
from sgr_kernel.llm.planner import check_against_catalogue, plan_task
from sgr_kernel.llm.schema_guided import generate
from sgr_kernel.models.plan import Plan
from sgr_kernel.testing.llama_server import LlamaServer
from sgr_kernel.testing.planner_eval import EVAL_CATALOGUE
from sgr_skills.answer import _Answer
from sgr_skills.code_interpreter import SYSTEM as CODE_SYSTEM
from sgr_skills.code_interpreter import CodeModel

pytestmark = pytest.mark.slow
M = TypeVar("M", bound=BaseModel)
ROOT = Path(__file__).resolve().parents[3]


def _client(srv: LlamaServer, **kw: Any) -> OpenAICompatLLM:
    settings = LLMSettings(provider="openai_compat", base_url=srv.base_url, model=srv.alias, **kw)
    return OpenAICompatLLM(settings)


def _generate(
    client: OpenAICompatLLM, cls: type[M], messages: list[Message], *, stream: bool = False
) -> tuple[M, list[str], int]:
    tokens: list[str] = []

    async def call(request: LLMRequest) -> LLMResponse:
        return await client.complete(request, on_token=tokens.append if stream else None)

    async def go() -> tuple[M, int]:
        try:
            out = await generate(call, cls, messages, request_defaults={"max_tokens": 700})
            return out.value, out.attempts
        finally:
            await client.aclose()

    value, attempts = asyncio.run(go())
    return value, tokens, attempts


def test_probe_finds_json_object_with_schema(llama_server: LlamaServer, sgr_home: Path) -> None:
    client = _client(llama_server)

    async def go() -> str:
        try:
            return await client.structured_mode()
        finally:
            await client.aclose()

    mode = asyncio.run(go())
    assert mode == "json_object_schema"
    assert client.endpoint is not None
    assert client.endpoint.tried["json_schema"].startswith("refused (500")
    assert client.endpoint.tried["json_object_schema"] == "enforced"
    cached = endpoints.load(llama_server.base_url, llama_server.alias)
    assert cached is not None and cached.mode == mode
    print(f"FIGURE llama_cpp_server mode={mode} tried={json.dumps(client.endpoint.tried)[:160]}")


def test_plan_call_gives_a_valid_plan(llama_server: LlamaServer) -> None:
    client = _client(llama_server)
    tokens: list[str] = []

    async def call(request: LLMRequest) -> LLMResponse:
        return await client.complete(request, on_token=tokens.append)

    async def go(task: str) -> Plan:
        return await plan_task(
            call,
            task,
            EVAL_CATALOGUE,
            validate=lambda p: check_against_catalogue(p, EVAL_CATALOGUE),
        )

    async def both() -> list[Plan]:
        try:
            return [
                await go("What is the capital of Italy?"),
                await go("Compute 17 * 23 with Python."),
            ]
        finally:
            await client.aclose()

    answer, code = asyncio.run(both())
    assert [s.skill for s in answer.steps] == ["answer"]
    assert [s.skill for s in code.steps] == ["code_interpreter"]
    assert tokens  # the plans streamed
    print(f"FIGURE conformance kind=plan plans=2 streamed_chunks={len(tokens)}")


def test_answer_call_streams_tokens(llama_server: LlamaServer) -> None:
    messages = [
        Message(role="system", content="You answer precisely and briefly."),
        Message(role="user", content="Question: What is the capital of France?"),
    ]
    value, tokens, attempts = _generate(_client(llama_server), _Answer, messages, stream=True)
    assert value.answer.strip()
    assert len(tokens) > 5  # SSE chunks reached the callback one by one
    assert json.loads("".join(tokens), strict=False)["answer"] == value.answer or attempts > 1
    print(f"FIGURE conformance kind=answer attempts={attempts} streamed_chunks={len(tokens)}")


def test_code_interpreter_call_is_schema_valid(llama_server: LlamaServer) -> None:
    messages = [
        Message(role="system", content=CODE_SYSTEM),
        Message(role="user", content="Task: print the sum of the numbers 1 to 10"),
    ]
    value, _, attempts = _generate(_client(llama_server), CodeModel, messages)
    assert value.code.strip()
    print(
        f"FIGURE conformance kind=code_interpreter attempts={attempts} code_chars={len(value.code)}"
    )


def test_forced_tool_call_mode_works_on_the_real_server(llama_server: LlamaServer) -> None:
    messages = [Message(role="user", content="Question: What colour is the sky?")]
    client = _client(llama_server, structured_output="tool_call")
    value, tokens, _ = _generate(client, _Answer, messages, stream=True)
    assert value.answer.strip() and tokens


def test_sgr_run_task_completes_through_openai_compat(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGR_", "OPENAI_"))}
    env |= {
        "SGR_HOME": str(tmp_path / "home"),
        "SGR_BASE_URL": llama_server.base_url,
        "SGR_MODEL": llama_server.alias,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "kernel"), str(ROOT / "skills"), str(ROOT), env.get("PYTHONPATH", "")]
        ),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sgr_kernel.cli",
            "--home",
            str(tmp_path / "runs"),
            "run",
            "What is the capital of France?",
            "--json",
            "--approval",
            "auto",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    assert data["status"] == "COMPLETED"
    texts = [o.get("text") for o in data["outputs"].values() if isinstance(o, dict)]
    assert any(isinstance(t, str) and t.strip() for t in texts), data
    print(
        f"FIGURE sgr_run provider=openai_compat status={data['status']} steps={len(data['steps'])}"
    )
