"""RunContext's doors to HTTP and remote jobs, against real peers: a loopback HTTP server and
the inline dispatcher. Every answer is recorded and strict replay serves it with no live call."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from sgr_kernel.dispatch.base import job
from sgr_kernel.engine import Kernel, KernelConfig
from sgr_kernel.errors import CapabilityDenied, PlanValidationError
from sgr_kernel.models import RunStatus, parse_plan
from sgr_kernel.skills.base import CAP_NETWORK, CAP_REMOTE, Skill, SkillContext
from sgr_kernel.trace.base import RecordType

CANARY = "sk-canary-0123456789"
JOB_RUNS: list[int] = []


@job("square")
def _square(x: int) -> dict[str, Any]:
    JOB_RUNS.append(x)
    return {"y": x * x}


class _Url(BaseModel):
    url: str


class _Body(BaseModel):
    status: int
    body: str
    stamp: float
    token: str


class Fetch(Skill):
    name = "fetch"
    description = "GET a URL"
    Input = _Url
    Output = _Body
    capabilities: ClassVar[frozenset[str]] = frozenset({CAP_NETWORK})

    async def run(self, ctx: SkillContext, inputs: _Url) -> _Body:
        r = await ctx.http("GET", inputs.url, headers={"Authorization": f"Bearer {CANARY}"})
        return _Body(status=r.status, body=r.body, stamp=ctx.now(), token=ctx.new_id())


class _X(BaseModel):
    x: int


class _Y(BaseModel):
    y: int


class Square(Skill):
    name = "square"
    description = "square remotely"
    Input = _X
    Output = _Y
    capabilities: ClassVar[frozenset[str]] = frozenset({CAP_REMOTE})

    async def run(self, ctx: SkillContext, inputs: _X) -> _Y:
        out = await ctx.remote("square", {"x": inputs.x}, timeout_s=10)
        return _Y(y=out["y"])


class _Handler(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.headers.get("Authorization", ""))
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_http_is_recorded_redacted_and_replayed(tmp_path: Path, server: str) -> None:
    plan = parse_plan(
        f"steps: [{{id: get, skill: fetch, capabilities: [network], "
        f"inputs: {{url: '{server}/data'}}}}]"
    )

    async def go() -> tuple[Any, Any, Any]:
        k = Kernel(KernelConfig(home=tmp_path), skills={"fetch": Fetch})
        result = await k.run(plan=plan)
        return k, result, await k.replay(result.run_id)

    _Handler.hits.clear()
    k, result, report = asyncio.run(go())
    assert result.status is RunStatus.COMPLETED, result.reason
    out = result.outputs["get"]
    assert out["status"] == 200 and json.loads(out["body"]) == {"path": "/data"}
    assert _Handler.hits == [f"Bearer {CANARY}"]  # the peer got the real header, once
    records = k.store.read(result.run_id).records
    intents = [r for r in records if r.type is RecordType.INTENT]
    assert [r.data["kind"] for r in intents] == ["http"]
    assert intents[0].data["request"]["headers"]["Authorization"] == "***"
    values = [r.data["kind"] for r in records if r.type is RecordType.VALUE]
    assert values == ["now", "id"]
    wal = (k.store.run_dir(result.run_id) / "wal.jsonl").read_text()
    assert CANARY not in wal
    # Replay serves the answer, the time and the id from the trace: the server is not called.
    assert report.ok and report.live_calls == 0, report
    assert _Handler.hits == [f"Bearer {CANARY}"]


class SneakyFetch(Fetch):
    """Declares no capability but reaches for the network anyway."""

    name = "sneaky"
    capabilities: ClassVar[frozenset[str]] = frozenset()


def test_network_needs_a_grant(tmp_path: Path, server: str) -> None:
    skills: dict[str, type[Skill]] = {"fetch": Fetch, "sneaky": SneakyFetch}
    k = Kernel(KernelConfig(home=tmp_path), skills=skills)
    declared = parse_plan(f"steps: [{{id: get, skill: fetch, inputs: {{url: '{server}/'}}}}]")
    with pytest.raises(PlanValidationError, match="needs capability network"):
        asyncio.run(k.run(plan=declared))
    assert k.store.list_runs() == []  # refused before anything was created or run

    _Handler.hits.clear()
    sneaky = parse_plan(f"steps: [{{id: get, skill: sneaky, inputs: {{url: '{server}/'}}}}]")
    result = asyncio.run(k.run(plan=sneaky))
    assert result.status is RunStatus.FAILED
    view = k.show(result.run_id)
    assert view.steps[0].error is not None
    assert view.steps[0].error.startswith(CapabilityDenied.__name__)
    assert _Handler.hits == []  # the request never left


def test_remote_job_through_the_dispatcher(tmp_path: Path) -> None:
    plan = parse_plan(
        "steps:\n  - {id: sq, skill: square, capabilities: [remote], inputs: {x: 7}}\n"
    )
    JOB_RUNS.clear()

    async def go() -> tuple[Any, Any, Any]:
        k = Kernel(KernelConfig(home=tmp_path), skills={"square": Square})
        result = await k.run(plan=plan)
        return k, result, await k.replay(result.run_id)

    k, result, report = asyncio.run(go())
    assert result.status is RunStatus.COMPLETED and result.outputs["sq"] == {"y": 49}
    assert JOB_RUNS == [7]
    intent = next(r for r in k.store.read(result.run_id).records if r.type is RecordType.INTENT)
    # The job key is in the WAL before the submit, without the attempt (re-attach on resume).
    assert intent.data["key"] == f"{result.run_id}:sq:1"
    assert report.ok and report.live_calls == 0
    assert JOB_RUNS == [7]
