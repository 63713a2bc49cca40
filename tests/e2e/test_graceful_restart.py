"""JupyterLab's own Kernel → Restart and Kernel → Shut Down, clicked in a real Lab while a run is
live: the run ends INTERRUPTED (not FAILED, not silently RUNNING) and resumes to the end."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_lab import Browser, LabServer, open_notebook, require, run_all, shot
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = [pytest.mark.lab, pytest.mark.docker]

SLOW = """%%sgr --plan
name: {name}
steps:
  - {{id: first, skill: python, inputs: {{code: "1 + 1"}}}}
  - id: slow
    skill: python
    depends_on: [first]
    idempotent: true
    inputs: {{code: "import time\\ntime.sleep(12)\\n'done'"}}
"""

ACTIONS = {"restart": "kernelmenu:restart", "shutdown": "kernelmenu:shutdown"}


def _run_named(home: Path, name: str) -> tuple[str, dict[str, object]] | None:
    for wal in (home / "runs").glob("*/wal.jsonl"):
        lines = [json.loads(line) for line in wal.read_text().splitlines()[1:] if line.strip()]
        created = [r for r in lines if r["type"] == "run_created"]
        if created and created[0]["data"]["name"] == name:
            status = [r["data"]["status"] for r in lines if r["type"] == "run_status"]
            running = any(
                r["type"] == "step" and r["step"] == "slow" and r["data"]["status"] == "RUNNING"
                for r in lines
            )
            return wal.parent.name, {"status": status[-1] if status else None, "slow": running}
    return None


def _wait(what: str, check, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _docker_ok() -> bool:
    from sgr_kernel.errors import SandboxUnavailable
    from sgr_kernel.sandbox._client import connect, default_image, require_image

    try:
        require_image(connect(timeout=30), default_image())
    except SandboxUnavailable:
        return False
    return True


def test_restart_and_shutdown_leave_the_run_resumable(
    lab_server: LabServer, browser: Browser
) -> None:
    require(_docker_ok(), "the Docker sandbox is unusable (the slow step runs Python)")
    page = browser.page
    resumable = 0
    for action, command in ACTIONS.items():
        name = f"graceful-{action}"
        nb = lab_server.write_notebook(
            f"{name}.ipynb", ["%load_ext sgr_jupyter", SLOW.format(name=name)]
        )
        open_notebook(browser, lab_server, nb)
        run_all(browser)
        run_id, _ = _wait(
            "the slow step to start",
            lambda name=name: (got := _run_named(lab_server.home, name)) and got[1]["slow"] and got,
        )
        # The user's own menu action, then the confirmation dialog's button.
        # (not awaited: the command's promise settles only once the dialog is answered)
        page.evaluate(f"() => {{ void window.jupyterapp.commands.execute('{command}'); }}")
        enabled = page.evaluate(f"() => window.jupyterapp.commands.isEnabled('{command}')")
        assert enabled, f"{command} is not available in the notebook"
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        with contextlib.suppress(PlaywrightTimeout):  # Lab asks first for some actions
            dialog.click(timeout=5_000)
        status = _wait(
            "the run to stop",
            lambda name=name: (
                (got := _run_named(lab_server.home, name))
                and got[1]["status"] not in (None, "RUNNING", "PLANNED")
                and got[1]["status"]
            ),
        )
        shot(page, f"graceful-{action}")
        assert status == "INTERRUPTED", (action, status)

        # The user's next move: resume it (here from a terminal; `%sgr resume` is the same).
        done = subprocess.run(
            [sys.executable, "-m", "sgr_kernel.cli", "resume", run_id, "--json"],
            env={**os.environ, "SGR_HOME": str(lab_server.home)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode == 0 and json.loads(done.stdout)["status"] == "COMPLETED":
            resumable += 1
    print(f"FIGURE graceful_restarts={len(ACTIONS)} resumable={resumable}")
    assert resumable == len(ACTIONS)
