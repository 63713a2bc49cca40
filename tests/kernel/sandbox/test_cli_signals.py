"""Ctrl-C and SIGTERM of `sgr run`: the run ends INTERRUPTED (resumable), the command exits
128 + the signal, and `sgr resume` finishes it without redoing committed work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

SGR = [sys.executable, "-m", "sgr_kernel.cli"]

PLAN = """
name: slow
steps:
  - {id: first, skill: python, inputs: {code: "1 + 1"}}
  - id: slow
    skill: python
    depends_on: [first]
    idempotent: true
    inputs: {code: "import time\\ntime.sleep(4)\\n'done'"}
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SGR_CRASH_AT"}
    env["SGR_HOME"] = str(home)
    return env


def _wait_running(home: Path, step: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for wal in (home / "runs").glob("*/wal.jsonl"):
            for line in wal.read_text().splitlines():
                if f'"step":"{step}"' in line and '"RUNNING"' in line:
                    return
        time.sleep(0.05)
    raise AssertionError(f"step {step} never started")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_interrupts_and_resume_finishes(
    tmp_path: Path, sig: signal.Signals, docker_client: object
) -> None:
    plan = tmp_path / "slow.yaml"
    plan.write_text(PLAN)
    proc = subprocess.Popen(
        [*SGR, "run", str(plan), "--json"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_running(tmp_path, "slow")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    data = json.loads(out)
    assert data["status"] == "INTERRUPTED", data
    assert f"interrupted by {sig.name}" in data["reason"]
    run_id = data["run_id"]
    resumed = subprocess.run(
        [*SGR, "resume", run_id, "--json"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    done = json.loads(resumed.stdout)
    assert done["status"] == "COMPLETED" and done["outputs"]["slow"]["value"] == "done"
    attempts = {s["id"]: s["attempts"] for s in done["steps"]}
    assert attempts["first"] == 1  # committed before the signal: not run again
    print(f"FIGURE signal={sig.name} exit={128 + sig} status=INTERRUPTED resumed=COMPLETED")
