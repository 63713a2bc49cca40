"""Steering a run that is live in another process: decisions go through the run's inbox and
the live process records them in its own log (one writer per run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sgr_kernel.trace import inbox

# A notebook-like process: waits for approvals instead of pausing, prints its run id.
CHILD = r"""
import asyncio, sys
from pathlib import Path
from sgr_kernel.engine import Kernel, KernelConfig
from sgr_kernel.models import parse_plan
plan = parse_plan('''
steps:
  - {id: a, skill: format, inputs: {template: x}}
  - {id: gate, skill: format, requires_approval: true, inputs: {template: "${a.output.text}!"}}
  - {id: after, skill: format, inputs: {template: "${gate.output.text}?"}}
''')
async def main():
    k = Kernel(KernelConfig(home=Path(sys.argv[1])))
    h = await k.start(plan=plan, run_id="live-run")
    print("started", flush=True)
    r = await h.wait()
    print(r.status.value, flush=True)
asyncio.run(main())
"""


def _sgr(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SGR_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "sgr_kernel.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def _wait_for_gate(home: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = _sgr(home, "show", "live-run", "--json")
        if shown.returncode == 0:
            steps = {s["id"]: s["status"] for s in json.loads(shown.stdout)["steps"]}
            if steps.get("gate") == "WAITING_APPROVAL":
                return
        time.sleep(0.1)
    pytest.fail("the live run never reached its approval gate")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
        _wait_for_gate(tmp_path)
        yield proc
        if proc.poll() is None:
            proc.kill()


def test_approve_from_another_process(tmp_path: Path, live: subprocess.Popen[str]) -> None:
    bad = _sgr(tmp_path, "approve", "live-run", "a")
    assert bad.returncode == 2 and "not waiting for approval" in bad.stderr
    # A request the live run itself refuses (posted by hand) is moved aside with the reason.
    run_dir = tmp_path / "runs" / "live-run"
    inbox.post(run_dir, "deny", step="nope", request_id="0-by-hand")
    rejected = run_dir / "inbox" / "rejected"
    deadline = time.monotonic() + 10
    while not list(rejected.glob("*.reason")) and time.monotonic() < deadline:
        time.sleep(0.05)
    reasons = [p.read_text() for p in rejected.glob("*.reason")]
    assert reasons and "no step 'nope'" in reasons[0]

    ok = _sgr(tmp_path, "approve", "live-run", "gate", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {
        "applied": True, "delivered": "posted", "run_id": "live-run", "step": "gate"
    }  # fmt: skip
    assert live.stdout is not None
    assert live.stdout.readline().strip() == "COMPLETED"
    assert live.wait(timeout=30) == 0
    view = json.loads(_sgr(tmp_path, "show", "live-run", "--json").stdout)
    gate = next(s for s in view["steps"] if s["id"] == "gate")
    assert gate["approval"] is True and gate["approval_by"] == "cli"
    assert gate["attempts"] == 1  # ran exactly once
    assert list((tmp_path / "runs" / "live-run" / "inbox").glob("*.json")) == []
    replay = json.loads(_sgr(tmp_path, "replay", "live-run", "--json").stdout)
    assert replay["divergences"] == [] and replay["live_calls"] == 0


def test_cancel_from_another_process(tmp_path: Path, live: subprocess.Popen[str]) -> None:
    r = _sgr(tmp_path, "cancel", "live-run", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "CANCELLED"
    assert live.stdout is not None and live.stdout.readline().strip() == "CANCELLED"


def test_malformed_requests_are_rejected(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "inbox").mkdir()
    (run_dir / "inbox" / "0-bad.json").write_text("{not json")
    (run_dir / "inbox" / "1-odd.json").write_text('{"action": "explode"}')
    inbox.post(run_dir, "approve", step="s", request_id="2-good")
    taken = inbox.take(run_dir)
    assert [(r.action, r.step) for r in taken] == [("approve", "s")]
    assert sorted(p.name for p in (run_dir / "inbox" / "rejected").glob("*.json")) == [
        "0-bad.json",
        "1-odd.json",
    ]
