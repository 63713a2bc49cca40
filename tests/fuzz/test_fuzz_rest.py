"""Property-based fuzzing of the REST bodies through a real jupyter-server: every body gets a
2xx or a 4xx with a bounded ``{"error", "message"}`` (never a 500, never the body echoed
back), and a refused request leaves the run's trace as it was.

pytest-jupyter's fixtures are imported into this module only (as ``test_server_api`` does).
Hypothesis runs in a worker thread; each request is made on the server's own loop.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from _strategies import values
from _tally import Tally
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_jupyter.jupyter_server import *  # noqa: F403 - fixtures, this module only
from service_helpers import on_server_loop, server_config
from tornado.httpclient import HTTPClientError

from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import parse_plan

GATE = """
name: gate
steps:
  - {id: a, skill: format, inputs: {template: x}}
  - {id: gate, skill: format, inputs: {template: y}, requires_approval: true, depends_on: [a]}
"""
STEPS = st.sampled_from(["gate", "a", "zz", "", "../x", "g" * 5000, "\x1b]52;c;aGk=\x07"])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "sgr-home"


@pytest.fixture
def jp_server_config(home: Path) -> dict[str, Any]:
    return server_config(home, steer_wait_s=0.2)


def _bodies() -> st.SearchStrategy[bytes]:
    objects = st.fixed_dictionaries(
        {},
        optional={
            "step": st.one_of(STEPS, values),
            "reason": st.one_of(st.text(max_size=30), values),
            "resume": st.one_of(st.booleans(), values),
        },
    )
    return st.one_of(
        objects.map(lambda d: json.dumps(d).encode()),
        values.map(lambda v: json.dumps(v).encode()),
        st.integers(10, 20000).map(lambda d: b'{"step": ' + b"[" * d + b"]" * d + b"}"),
        st.just(b'{"step": ' + b"9" * 5000 + b"}"),
        st.just(b'{"step": NaN}'),
        st.binary(max_size=64),
        st.just(b""),
    )


@on_server_loop
async def test_rest_bodies(loop: asyncio.AbstractEventLoop, jp_fetch: Any, home: Path) -> None:
    kernel = Kernel(KernelConfig(home=home, pause_when_waiting=True))
    run_id = (await kernel.run(plan=parse_plan(GATE))).run_id
    t = Tally("rest")

    def fetch(action: str, rid: str, body: bytes) -> tuple[int, bytes]:
        async def go() -> Any:  # made here, run on the server's loop
            return await jp_fetch("sgr", "api", "v1", "runs", rid, action, method="POST", body=body)

        try:
            resp = asyncio.run_coroutine_threadsafe(go(), loop).result(timeout=60)
            return resp.code, resp.body
        except HTTPClientError as e:
            return e.code, e.response.body if e.response is not None else b""

    def records() -> int:
        return len(kernel.store.read(run_id).records)

    @settings(
        max_examples=120,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        st.sampled_from(["approve", "deny", "cancel", "resume"]),
        st.sampled_from([run_id, run_id, "missing", "..", "a%00b", "x" * 300]),
        _bodies(),
    )
    def case(action: str, rid: str, body: bytes) -> None:
        t.cases += 1
        before = records()
        try:
            code, raw = fetch(action, rid, body)
        except TimeoutError:
            t.bad("hangs", f"{action} {rid} {body[:100]!r}")
            return
        what = f"{action} {rid[:20]} {body[:100]!r} -> {code} {raw[:200]!r}"
        if code in (200, 202):
            t.clean += 1
            return
        try:
            reply = json.loads(raw)
            clear = 400 <= code < 500 and bool(reply["error"]) and bool(reply["message"])
        except (ValueError, KeyError, TypeError):
            clear = False
        if not clear or len(raw) > 2000:
            t.bad("tracebacks", what)
        elif records() != before:
            t.bad("state_damaged", what)
        else:
            t.clear_errors += 1

    await loop.run_in_executor(None, case)
    # A large refused body is not echoed back.
    t.cases += 1
    big = json.dumps({"step": "s" * 1_000_000}).encode()
    code, raw = await loop.run_in_executor(None, fetch, "approve", run_id, big)
    if code == 400 and len(raw) < 2000:
        t.clear_errors += 1
    else:
        t.bad("tracebacks", f"big body: {code} {len(raw)} bytes back")
    t.check()
