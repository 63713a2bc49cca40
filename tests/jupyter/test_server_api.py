"""The REST API through a real jupyter-server (pytest-jupyter's ``jp_fetch``): routing,
authentication, status codes and JSON shapes. Behaviour is tested in ``test_service.py``.

pytest-jupyter's fixtures are imported into this module rather than loaded as a plugin:
a plugin is global, and its autouse fixtures close the current event loop after every test,
which breaks the sync Playwright browser tests that run in the same session. Imported here,
they exist for this module only; the tests are plain functions that drive the server's loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - fixtures, this module only
from service_helpers import PNG, artifact_run
from tornado.httpclient import HTTPClientError

from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import parse_plan

GATE = """
name: gate
steps:
  - {id: a, skill: format, inputs: {template: x}}
  - {id: gate, skill: format, requires_approval: true, inputs: {template: "${a.output.text}!"}}
  - {id: after, skill: format, inputs: {template: "${gate.output.text}"}}
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "sgr-home"


@pytest.fixture
def jp_server_config(home: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"sgr_jupyter.server": True}},
        "SgrServer": {"home": str(home)},
    }


def on_server_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an ``async`` test body on the server's loop, as a plain test function."""

    @functools.wraps(test)
    def run(jp_asyncio_loop: asyncio.AbstractEventLoop, **fixtures: Any) -> None:
        jp_asyncio_loop.run_until_complete(test(**fixtures))

    params = [inspect.Parameter("jp_asyncio_loop", inspect.Parameter.KEYWORD_ONLY)]
    params += [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in inspect.signature(test).parameters.values()
    ]
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return run


async def paused_run(home: Path) -> str:
    kernel = Kernel(KernelConfig(home=home, pause_when_waiting=True))
    return (await kernel.run(plan=parse_plan(GATE))).run_id


async def call(jp_fetch: Any, *path: str, body: dict[str, Any] | None = None) -> Any:
    if body is None:
        resp = await jp_fetch("sgr", "api", "v1", *path)
    else:
        resp = await jp_fetch("sgr", "api", "v1", *path, method="POST", body=json.dumps(body))
    assert resp.code == 200
    return json.loads(resp.body)


async def failure(jp_fetch: Any, *path: str, body: dict[str, Any] | None = None) -> Any:
    with pytest.raises(HTTPClientError) as info:
        await call(jp_fetch, *path, body=body)
    assert info.value.response is not None
    return info.value.code, json.loads(info.value.response.body)


@on_server_loop
async def test_list_detail_export(jp_fetch: Any, home: Path) -> None:
    assert (await call(jp_fetch, "runs"))["runs"] == []
    run_id = await paused_run(home)

    listing = await call(jp_fetch, "runs")
    assert listing["root"] == str(home)
    (row,) = listing["runs"]
    assert row["run_id"] == run_id and row["status"] == "PAUSED" and row["waiting"] == ["gate"]

    detail = await call(jp_fetch, "runs", run_id)
    assert detail["summary"]["run_id"] == run_id
    assert [s["id"] for s in detail["view"]["steps"]] == ["a", "gate", "after"]
    assert "class s_gate sgr_waiting_approval" in detail["mermaid"]

    resp = await jp_fetch("sgr", "api", "v1", "runs", run_id, "export")
    assert "attachment" in resp.headers["Content-Disposition"]
    assert json.loads(resp.body)["view"]["run_id"] == run_id


@on_server_loop
async def test_approve_with_resume_finishes_the_run(jp_fetch: Any, home: Path) -> None:
    run_id = await paused_run(home)
    row = await call(jp_fetch, "runs", run_id, "approve", body={"step": "gate", "resume": True})
    assert row["live"] == "here"
    while (await call(jp_fetch, "runs", run_id))["summary"]["status"] != "COMPLETED":
        await asyncio.sleep(0.05)
    detail = await call(jp_fetch, "runs", run_id)
    gate = next(s for s in detail["view"]["steps"] if s["id"] == "gate")
    assert gate["approval"] is True and gate["approval_by"].startswith("panel")


@on_server_loop
async def test_errors_map_to_status_codes(jp_fetch: Any, home: Path) -> None:
    run_id = await paused_run(home)
    code, body = await failure(jp_fetch, "runs", "missing")
    assert (code, body["error"]) == (404, "run-not-found")
    code, body = await failure(jp_fetch, "runs", run_id, "approve", body={"step": "a"})
    assert (code, body["error"]) == (409, "approval") and "not waiting" in body["message"]
    code, body = await failure(jp_fetch, "runs", run_id, "approve", body={})
    assert (code, body["error"]) == (400, "usage")
    code, body = await failure(jp_fetch, "runs", run_id, "deny", body={"step": "nope"})
    assert code == 409

    # A run live in another process: its lock file names a live holder (this test process
    # stands in for the notebook kernel by holding the writer open).
    kernel = Kernel(KernelConfig(home=home))
    _, writer = kernel.store.open_append(run_id)
    try:
        lock = kernel.store.run_dir(run_id) / "lock"
        lock.write_text(f"pid=1 host={os.uname().nodename}")  # pid 1 is always alive
        code, body = await failure(jp_fetch, "runs", run_id, "cancel", body={})
        assert (code, body["error"]) == (409, "run-live-elsewhere") and "hint" in body
        listing = await call(jp_fetch, "runs")
        assert listing["runs"][0]["live"] == "elsewhere"
    finally:
        writer.close()
    row = await call(jp_fetch, "runs", run_id, "cancel", body={"reason": "done here"})
    assert row["status"] == "CANCELLED"


@on_server_loop
async def test_needs_authentication(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("sgr", "api", "v1", "runs", headers={"Authorization": ""})
    assert info.value.code == 403


@on_server_loop
async def test_artifacts_inline_only_when_safe(jp_fetch: Any, home: Path) -> None:
    _, run_id = await asyncio.to_thread(artifact_run, home)
    detail = await call(jp_fetch, "runs", run_id)
    png, page = detail["view"]["steps"][0]["output"]["artifacts"]

    resp = await jp_fetch("sgr", "api", "v1", "runs", run_id, "artifacts", png["sha256"])
    assert resp.body == PNG and resp.headers["Content-Type"] == "image/png"
    assert resp.headers["Content-Disposition"].startswith("inline")

    # HTML written by sandboxed code must never render with the server's origin.
    resp = await jp_fetch("sgr", "api", "v1", "runs", run_id, "artifacts", page["sha256"])
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]

    code, body = await failure(jp_fetch, "runs", run_id, "artifacts", "0" * 64)
    assert (code, body["error"]) == (404, "artifact")
