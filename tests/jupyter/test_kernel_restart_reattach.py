"""Over a real ipykernel, on the wire: a live view's heartbeat moves while its run waits; the
kernel restarts (the run ends INTERRUPTED); ``%sgr resume RUN`` in the new kernel opens a new
view, seeded from the WAL, that waits at the same gate and completes when approved."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

PLAN_CELL = """%%sgr --plan
name: gated
steps:
  - id: hello
    skill: format
    inputs: {template: "hello"}
  - id: gate
    skill: format
    requires_approval: true
    inputs: {template: "approved: ${hello.output.text}"}
"""


class Wire:
    """A kernel client that keeps the widget states it sees on iopub, by comm id."""

    def __init__(self, km: KernelManager) -> None:
        self.kc = km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        self.states: dict[str, dict[str, Any]] = {}
        self.markdown: dict[str, str] = {}
        """display id -> the last Markdown shown under it (an answer slot)."""

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "comm_open":
                self.states[content["comm_id"]] = dict(content["data"].get("state", {}))
            elif kind == "comm_msg" and content["data"].get("method") == "update":
                self.states.setdefault(content["comm_id"], {}).update(content["data"]["state"])
            elif kind in ("display_data", "update_display_data"):
                display_id = content.get("transient", {}).get("display_id")
                if display_id and "text/markdown" in content["data"]:
                    self.markdown[display_id] = content["data"]["text/markdown"]

    def run(self, code: str, timeout: float = 120) -> dict[str, Any]:
        msg_id = self.kc.execute(code)
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        self.pump(0.5)
        return dict(reply["content"])

    def views(self) -> list[dict[str, Any]]:
        return [s for s in self.states.values() if "phase" in s]

    def wait_for(self, pred: Any, what: str, timeout: float = 60) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for s in self.views():
                if pred(s):
                    return s
            self.pump(0.3)
        raise AssertionError(f"never seen on the wire: {what}; views: {self.views()}")

    def close(self) -> None:
        self.kc.stop_channels()


@pytest.fixture
def km(tmp_path: Path) -> Iterator[KernelManager]:
    env = dict(os.environ)
    env["SGR_HOME"] = str(tmp_path / "home")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "kernel"), str(REPO / "skills"), str(REPO), env.get("PYTHONPATH", "")]
    )
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env, cwd=str(tmp_path))
    yield manager
    manager.shutdown_kernel(now=True)


def test_heartbeat_then_restart_then_resume_reattaches(km: KernelManager) -> None:
    wire = Wire(km)
    assert (
        wire.run("%load_ext sgr_jupyter\n%config SgrMagics.durability = 'sync'")["status"] == "ok"
    )
    assert wire.run(PLAN_CELL)["status"] == "ok"
    first = wire.wait_for(lambda s: s.get("phase") == "WAITING_FOR_APPROVAL", "the gate waits")
    run_id = first["run_id"]
    beat = wire.wait_for(lambda s: s.get("heartbeat", 0) >= 2, "two heartbeats")
    assert beat["run_id"] == run_id and beat["states"] == {
        "hello": "COMMITTED",
        "gate": "WAITING_APPROVAL",
    }
    wire.close()

    km.restart_kernel(now=False)  # graceful: the run is interrupted, resumable
    wire = Wire(km)
    assert (
        wire.run("%load_ext sgr_jupyter\n%config SgrMagics.durability = 'sync'")["status"] == "ok"
    )
    assert wire.run(f"%sgr resume {run_id}")["status"] == "ok"
    again = wire.wait_for(
        lambda s: s.get("run_id") == run_id and s.get("phase") == "WAITING_FOR_APPROVAL",
        "the resumed view waits at the same gate",
    )
    assert again["states"]["hello"] == "COMMITTED" and again["t0"] == first["t0"]
    assert wire.run(f"%sgr approve {run_id} gate")["status"] == "ok"
    done = wire.wait_for(
        lambda s: s.get("run_id") == run_id and s.get("phase") == "COMPLETED", "completion"
    )
    assert done["answer"] == "approved: hello"
    # The answer slot below the resumed view is filled with the Markdown answer.
    end = time.monotonic() + 30
    while "approved: hello" not in wire.markdown.values() and time.monotonic() < end:
        wire.pump(0.3)
    assert "approved: hello" in wire.markdown.values(), wire.markdown
    wire.close()
