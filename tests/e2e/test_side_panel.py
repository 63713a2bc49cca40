"""The "Agent runs" side panel in a real JupyterLab driven by Debian's Chromium (Playwright for
Python, no browser download): the runs list, a run's DAG rendered by Lab's own Mermaid, and an
approval given from the panel that lets a paused run finish. No request may leave 127.0.0.1.

The panel needs the built labextension: missing, the test skips locally and FAILS under
``CI=true`` (build it with ``pip install -e .`` or ``jlpm build`` in ``labextension/``).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import parse_plan

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
LABEXT = REPO / "sgr_jupyter" / "labextension" / "package.json"
TOKEN = "sgr-e2e-panel"
PANEL_TAB = ".lm-TabBar-tab[data-id='sgr-runs-panel']"

CHAIN = """
name: chain of two
steps:
  - {id: fetch, skill: format, inputs: {template: one}}
  - {id: summarise, skill: format, inputs: {template: "${fetch.output.text} two"}}
"""
GATE = """
name: needs a human
steps:
  - {id: draft, skill: format, inputs: {template: draft}}
  - id: publish
    skill: format
    requires_approval: true
    inputs: {template: "${draft.output.text}!"}
  - {id: notify, skill: format, inputs: {template: "sent ${publish.output.text}"}}
"""


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI=true: browser tests must run)")
    pytest.skip(what)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    url: str
    home: Path
    runs: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if not LABEXT.exists():
        _missing(f"the labextension is not built ({LABEXT} is missing)")
    base = tmp_path_factory.mktemp("lab-panel")
    home, root, settings = base / "sgr-home", base / "nb", base / "settings"
    root.mkdir()
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))

    kernel = Kernel(KernelConfig(home=home, pause_when_waiting=True))
    runs = {
        "chain": asyncio.run(kernel.run(plan=parse_plan(CHAIN))).run_id,
        "gate": asyncio.run(kernel.run(plan=parse_plan(GATE))).run_id,
    }

    port = _free_port()
    env = {
        **os.environ,
        "SGR_HOME": str(home),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        # A fresh workspace: a restored layout could already have the panel open.
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
    }
    log = (base / "lab.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            # Enabled here too, so the test does not depend on the installed config file.
            "--ServerApp.jpserver_extensions=sgr_jupyter.server=True",
            f"--SgrServer.home={home}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:  # bounded by the test timeout; the process must stay up
            assert proc.poll() is None, (base / "lab.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        yield Lab(url, home, runs)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser_page(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        _missing("Debian chromium is not installed (scripts/ensure-chromium.sh installs it)")
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    external: list[str] = []

    def route(r: Any) -> None:
        u = r.request.url
        requests.append(u)
        if u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            external.append(u)
            r.abort()

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            viewport={"width": 1400, "height": 900},
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        ctx.route("**/*", route)
        page = ctx.new_page()
        page.external = external  # type: ignore[attr-defined]
        page.requests = requests  # type: ignore[attr-defined]
        yield page
        ctx.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def open_panel(page: Any, lab: Lab) -> None:
    """Load Lab (once per page) and show the panel's runs list."""
    if not page.url.startswith(f"{lab.url}/lab"):
        page.goto(f"{lab.url}/lab?token={TOKEN}")
    # The tab appears once Lab has loaded our labextension; a missing one times out here.
    tab = page.locator(PANEL_TAB)
    tab.wait_for(timeout=90_000)
    page.evaluate("async () => { await window.jupyterapp.restored; }")  # layout settled
    if not page.locator("#sgr-runs-panel").is_visible():
        tab.click()
    back = page.locator(".sgr-Panel-back")
    if back.count():
        back.click()


def test_panel_lists_runs_shows_dag_and_approves(lab: Lab, browser_page: Any) -> None:
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    open_panel(page, lab)

    rows = page.locator(".sgr-Panel-run")
    rows.nth(1).wait_for(timeout=30_000)
    assert rows.count() == 2
    assert rows.nth(0).get_attribute("data-run-id") == lab.runs["gate"]  # newest first
    assert "waiting: publish" in rows.nth(0).inner_text()
    shot(page, "side_panel_runs")

    rows.nth(0).click()
    nodes = page.locator(".sgr-Panel-dag svg g.node")
    nodes.nth(2).wait_for(timeout=30_000)
    assert nodes.count() == 3
    labels = page.locator(".sgr-Panel-dag svg").text_content() or ""
    assert all(s in labels for s in ("draft", "publish", "notify"))
    assert page.locator(".sgr-Panel-dag svg g.node.sgr_waiting_approval").count() == 1
    stray = page.locator(".sgr-Panel-dag").evaluate(
        "e => Array.from(e.childNodes).filter(n => n.nodeType === 3 && n.textContent.trim())"
        ".map(n => n.textContent)"
    )
    assert stray == []  # only the SVG: no leftover of Lab's XML prolog
    assert page.locator(".sgr-Panel-bar").count() == 1  # only `draft` has started
    page.locator(".sgr-Panel-step[data-step-id='draft'] summary").click()
    shot(page, "side_panel_waiting")

    page.locator(".sgr-Panel-approve").click()
    page.locator(".sgr-Panel-detailHead .sgr-Panel-status-completed").wait_for(timeout=30_000)
    page.locator(".sgr-Panel-dag svg g.node.sgr_committed").nth(2).wait_for(timeout=30_000)
    assert page.locator(".sgr-Panel-dag svg g.node.sgr_committed").count() == 3
    notify = page.locator(".sgr-Panel-step[data-step-id='notify']")
    notify.locator("summary").click()
    assert "sent draft!" in notify.inner_text()
    shot(page, "side_panel_approved")

    # The trace agrees with what the panel shows.
    view = Kernel(KernelConfig(home=lab.home)).show(lab.runs["gate"])
    assert view.status == "COMPLETED"
    assert next(s for s in view.steps if s.id == "publish").approval_by.startswith("panel")

    local = [u for u in page.requests if "/sgr/api/v1/" in u]
    print(
        f"FIGURE side_panel api_requests={len(local)} external_requests={len(page.external)} "
        f"console_errors={len(errors)}"
    )
    assert errors == [], errors
    assert page.external == [], page.external


LIVE = """
import asyncio, sys
from pathlib import Path
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import parse_plan
kernel = Kernel(KernelConfig(home=Path(sys.argv[1]), pause_when_waiting=False))
asyncio.run(kernel.run(plan=parse_plan(sys.stdin.read()), name="live in a notebook"))
"""


def test_panel_refuses_to_approve_a_run_live_in_another_process(
    lab: Lab, browser_page: Any
) -> None:
    """A run driven by another process (a notebook kernel) shows up live in the list; approving
    it from the panel is refused with the reason and the fix, and its trace is untouched."""
    page = browser_page
    proc = subprocess.Popen(
        [sys.executable, "-c", LIVE, str(lab.home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    proc.stdin.write(GATE.encode())
    proc.stdin.close()
    try:
        open_panel(page, lab)
        row = page.locator(".sgr-Panel-run", has_text="live in a kernel")
        row.wait_for(timeout=60_000)  # the list polls; the run reaches its approval
        assert proc.poll() is None
        row.locator(".sgr-Panel-waiting").wait_for(timeout=60_000)
        run_id = row.get_attribute("data-run-id")
        before = len(Kernel(KernelConfig(home=lab.home)).store.read(run_id).records)
        row.click()
        note = page.locator(".sgr-Panel-elsewhere")
        note.wait_for(timeout=30_000)
        assert "%sgr approve" in note.inner_text() and f"pid={proc.pid}" in note.inner_text()
        approve = page.locator(".sgr-Panel-approve")
        assert approve.is_disabled() and page.locator(".sgr-Panel-cancel").is_disabled()
        # Even if a click gets through (the run went live after the panel drew), the server
        # refuses with the reason and the fix: 409, shown in the panel.
        approve.evaluate("b => { b.disabled = false; b.click(); }")
        msg = page.locator(".sgr-Panel-message.sgr-mod-error")
        msg.wait_for(timeout=30_000)
        assert "another process" in msg.inner_text() and "%sgr approve" in msg.inner_text()
        shot(page, "side_panel_live_elsewhere")
        assert len(Kernel(KernelConfig(home=lab.home)).store.read(run_id).records) == before
    finally:
        proc.kill()
        proc.wait()
    assert page.external == [], page.external
