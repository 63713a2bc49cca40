"""The REST API through a real jupyter-server (pytest-jupyter's ``jp_fetch``): routing,
authentication, status codes and JSON shapes. Behaviour is tested in ``test_service.py``.

pytest-jupyter's fixtures are imported into this module rather than loaded as a plugin:
a plugin is global, and its autouse fixtures close the current event loop after every test,
which breaks the sync Playwright browser tests that run in the same session. Imported here,
they exist for this module only; the tests are plain functions that drive the server's loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - fixtures, this module only
from service_helpers import GATE, PNG, artifact_run, live_run, on_server_loop, server_config
from tornado.httpclient import HTTPClientError

from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import parse_plan


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "sgr-home"


@pytest.fixture
def jp_server_config(home: Path) -> dict[str, Any]:
    # Short, so the 202 test does not wait long for a run whose process is stopped.
    return server_config(home, steer_wait_s=1.0)


async def paused_run(home: Path) -> str:
    kernel = Kernel(KernelConfig(home=home, pause_when_waiting=True))
    return (await kernel.run(plan=parse_plan(GATE))).run_id


async def call(
    jp_fetch: Any, *path: str, body: dict[str, Any] | None = None, code: int = 200
) -> Any:
    if body is None:
        resp = await jp_fetch("sgr", "api", "v1", *path)
    else:
        resp = await jp_fetch("sgr", "api", "v1", *path, method="POST", body=json.dumps(body))
    assert resp.code == code
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


async def waiting_run(jp_fetch: Any, proc: subprocess.Popen[str]) -> str:
    """The id of the run ``proc`` drives, once the API lists it waiting and live elsewhere."""
    while True:
        assert proc.poll() is None, "the run's process died early"
        for row in (await call(jp_fetch, "runs"))["runs"]:
            if f"pid={proc.pid} " in f"{row['holder']} " and row["waiting"]:
                assert row["live"] == "elsewhere"
                return str(row["run_id"])
        await asyncio.sleep(0.05)


async def ended(proc: subprocess.Popen[str]) -> str:
    """What the run's process printed when its run stopped (read off the server's loop)."""
    assert proc.stdout is not None
    return (await asyncio.to_thread(proc.stdout.readline)).strip()


def reap(*procs: subprocess.Popen[str]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@on_server_loop
async def test_steer_a_run_live_in_another_process(jp_fetch: Any, home: Path) -> None:
    """Approve and cancel over HTTP reach runs driven by other processes (through their
    inbox): 200 with ``delivered: posted, applied: true``; resume stays 409."""
    to_approve, to_cancel = live_run(home), live_run(home)
    try:
        a = await waiting_run(jp_fetch, to_approve)
        c = await waiting_run(jp_fetch, to_cancel)
        code, body = await failure(jp_fetch, "runs", a, "resume", body={})
        assert (code, body["error"]) == (409, "run-live-elsewhere") and "hint" in body
        code, body = await failure(jp_fetch, "runs", a, "approve", body={"step": "a"})
        assert (code, body["error"]) == (409, "approval")

        row = await call(jp_fetch, "runs", a, "approve", body={"step": "gate", "resume": True})
        assert (row["delivered"], row["applied"], row["waiting"]) == ("posted", True, [])
        code, body = await failure(jp_fetch, "runs", a, "approve", body={"step": "gate"})
        assert (code, body["error"]) == (409, "approval")  # a double decision
        row = await call(jp_fetch, "runs", c, "cancel", body={"reason": "done here"})
        assert (row["delivered"], row["applied"]) == ("posted", True)
        assert (row["status"], row["reason"]) == ("CANCELLED", "done here")

        assert await ended(to_approve) == "COMPLETED"
        assert await ended(to_cancel) == "CANCELLED"
    finally:
        reap(to_approve, to_cancel)
    detail = await call(jp_fetch, "runs", a)
    gate = next(s for s in detail["view"]["steps"] if s["id"] == "gate")
    assert gate["approval"] is True and gate["approval_by"].startswith("panel")
    assert gate["attempts"] == 1 and detail["summary"]["status"] == "COMPLETED"


@on_server_loop
async def test_a_decision_not_yet_taken_is_202_and_applied_later(jp_fetch: Any, home: Path) -> None:
    """The run's process is stopped (SIGSTOP) when the approval arrives: after the server's
    short wait the answer is 202 (posted, not applied); once the process goes on it applies
    the posted approval and its run completes."""
    proc = live_run(home)
    try:
        run_id = await waiting_run(jp_fetch, proc)
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            row = await call(jp_fetch, "runs", run_id, "approve", body={"step": "gate"}, code=202)
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        assert (row["delivered"], row["applied"], row["waiting"]) == ("posted", False, ["gate"])
        assert await ended(proc) == "COMPLETED"
    finally:
        reap(proc)
    detail = await call(jp_fetch, "runs", run_id)
    gate = next(s for s in detail["view"]["steps"] if s["id"] == "gate")
    assert gate["approval"] is True and gate["approval_by"].startswith("panel")


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
