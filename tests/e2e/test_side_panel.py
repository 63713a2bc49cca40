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
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_lab import LABEXT, PANEL_TAB, Browser, LabServer, require, shot, start_lab, stop_lab
from pydantic import BaseModel

from sgr_kernel._defaults import default_skills
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import parse_plan
from sgr_kernel.skills.base import Skill, SkillContext
from sgr_kernel.testing.openai_server import OpenAITestServer, Reply
from sgr_kernel.trace.base import ArtifactRef

pytestmark = pytest.mark.lab


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


def tiny_png(w: int = 24, h: int = 12) -> bytes:
    """A valid RGB PNG (orange), so the browser really decodes what the panel shows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + b"\xea\x58\x0c" * w for _ in range(h))
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class _ChartIn(BaseModel):
    title: str


class _ChartOut(BaseModel):
    artifacts: list[ArtifactRef]


class ChartSkill(Skill):
    """Stands in for the sandbox's matplotlib output: stores one PNG artifact."""

    name = "chart"
    description = "test skill: stores a PNG"
    Input = _ChartIn
    Output = _ChartOut

    async def run(self, ctx: SkillContext, inputs: _ChartIn) -> _ChartOut:
        ref = ctx.put_artifact(tiny_png(), name=f"{inputs.title}.png", media_type="image/png")
        return _ChartOut(artifacts=[ref])


@dataclass
class Lab:
    """The shared Lab server plus the runs this module put in its store."""

    server: LabServer
    runs: dict[str, str]

    @property
    def home(self) -> Path:
        return self.server.home


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require(LABEXT.exists(), f"the labextension is not built ({LABEXT} is missing)")
    base = tmp_path_factory.mktemp("lab-panel")
    # A fresh workspace: a restored layout could already have the panel open.
    proc, server = start_lab(base, {"JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces")})
    try:
        skills = {**default_skills(), "chart": ChartSkill}
        kernel = Kernel(KernelConfig(home=server.home, pause_when_waiting=True), skills=skills)
        chart = parse_plan("steps:\n  - {id: plot, skill: chart, inputs: {title: sales}}\n")
        runs = {
            "chart": asyncio.run(kernel.run(plan=chart)).run_id,
            "chain": asyncio.run(kernel.run(plan=parse_plan(CHAIN))).run_id,
            "gate": asyncio.run(kernel.run(plan=parse_plan(GATE))).run_id,
        }
        yield Lab(server, runs)
    finally:
        stop_lab(proc)


def open_panel(page: Any, lab: Lab) -> None:
    """Load Lab (once per page) and show the panel's runs list."""
    url = lab.server.url
    if not page.url.startswith(f"{url}/lab"):
        page.goto(f"{url}/lab?token={lab.server.token}")
    # The tab appears once Lab has loaded our labextension; a missing one times out here.
    tab = page.locator(PANEL_TAB)
    tab.wait_for(timeout=90_000)
    page.evaluate("async () => { await window.jupyterapp.restored; }")  # layout settled
    if not page.locator("#sgr-runs-panel").is_visible():
        tab.click()
    back = page.locator(".sgr-Panel-back")
    if back.count():
        back.click()


def test_panel_lists_runs_shows_dag_and_approves(lab: Lab, browser: Browser) -> None:
    page = browser.page
    open_panel(page, lab)

    rows = page.locator(".sgr-Panel-run")
    rows.nth(2).wait_for(timeout=30_000)
    assert rows.count() == 3
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

    local = [u for u in browser.requests if "/sgr/api/v1/" in u]
    print(
        f"FIGURE side_panel api_requests={len(local)} external_requests={len(browser.external)} "
        f"console_errors={len(browser.console_errors)}"
    )
    assert browser.console_errors == [], browser.console_errors
    assert browser.external == [], browser.external


LIVE = """
import asyncio, sys
from pathlib import Path
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import parse_plan
kernel = Kernel(KernelConfig(home=Path(sys.argv[1]), pause_when_waiting=False))
result = asyncio.run(kernel.run(plan=parse_plan(sys.stdin.read()), name="live in a notebook"))
print(result.status.value, flush=True)
"""


def test_panel_approves_a_run_live_in_another_process(lab: Lab, browser: Browser) -> None:
    """A run driven by another process (a notebook kernel) shows up live in the list; the
    panel's Approve goes through the run's inbox, the panel says it was applied, and that
    process finishes the run with the approval recorded once, by the panel."""
    page = browser.page
    proc = subprocess.Popen(
        [sys.executable, "-c", LIVE, str(lab.home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(GATE)
    proc.stdin.close()
    try:
        open_panel(page, lab)
        row = page.locator(".sgr-Panel-run", has_text="live in a kernel")
        row.wait_for(timeout=60_000)  # the list polls; the run reaches its approval
        row.locator(".sgr-Panel-waiting").wait_for(timeout=60_000)
        assert proc.poll() is None
        run_id = row.get_attribute("data-run-id")
        assert run_id is not None
        row.click()
        note = page.locator(".sgr-Panel-elsewhere")
        note.wait_for(timeout=30_000)
        assert "inbox" in note.inner_text() and f"pid={proc.pid}" in note.inner_text()
        approve = page.locator(".sgr-Panel-approve")
        assert approve.is_enabled() and page.locator(".sgr-Panel-cancel").is_enabled()
        assert page.locator(".sgr-Panel-resume").count() == 0  # it already runs elsewhere
        shot(page, "side_panel_live_elsewhere")

        approve.click()
        msg = page.locator(".sgr-Panel-message.sgr-mod-info")
        msg.wait_for(timeout=30_000)
        assert "sent to the running notebook… applied" in msg.inner_text()
        page.locator(".sgr-Panel-detailHead .sgr-Panel-status-completed").wait_for(timeout=30_000)
        shot(page, "side_panel_live_elsewhere_approved")
        assert proc.stdout.readline().strip() == "COMPLETED"
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    records = Kernel(KernelConfig(home=lab.home)).store.read(run_id).records
    approvals = [r for r in records if r.type == "approval"]
    assert len(approvals) == 1 and approvals[0].data["by"].startswith("panel")
    view = Kernel(KernelConfig(home=lab.home)).show(run_id)
    assert view.status == "COMPLETED"
    assert next(s for s in view.steps if s.id == "publish").attempts == 1
    assert browser.console_errors == [], browser.console_errors
    assert browser.external == [], browser.external


def test_panel_shows_what_a_run_live_in_another_process_streams(
    lab: Lab, browser: Browser, tmp_path: Path
) -> None:
    """``sgr run`` in another process, its model streaming slowly from a real loopback
    server: the panel shows the step's streamed text while it runs, and none once it ends."""
    page = browser.page
    words = " ".join(f"word{i}" for i in range(80))
    answer = Reply.trickle(json.dumps({"reasoning": words, "answer": "Paris"}), 0.1)
    plan = tmp_path / "plan.json"
    ask = {"id": "ask", "skill": "answer", "inputs": {"question": "Capital of France?"}}
    plan.write_text(json.dumps({"name": "streaming elsewhere", "steps": [ask]}))
    with OpenAITestServer([answer]) as srv:
        env = {
            **os.environ,
            "SGR_HOME": str(lab.home),
            "SGR_PROVIDER": "openai_compat",
            "SGR_BASE_URL": srv.base_url,
            "SGR_MODEL": "test-model",
            "SGR_API_KEY": "k",
            "SGR_DISPATCHER": "inline",
        }
        cmd = [sys.executable, "-m", "sgr_kernel.cli", "run", str(plan), "--json"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            open_panel(page, lab)
            row = page.locator(".sgr-Panel-run", has_text="streaming elsewhere")
            row.wait_for(timeout=60_000)
            row.click()
            live = page.locator(".sgr-Panel-steps [data-sgr-stream='ask']")
            live.wait_for(timeout=60_000)
            first = live.inner_text()
            assert first and first in answer.content, first
            page.wait_for_function(
                "(n) => (document.querySelector(\"[data-sgr-stream='ask']\")?.textContent"
                " ?? '').length > n",
                arg=len(first),
                timeout=30_000,
            )  # it grows as the model goes on
            shot(page, "side_panel_stream_elsewhere")
            assert proc.poll() is None
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    page.locator(".sgr-Panel-detailHead .sgr-Panel-status-completed").wait_for(timeout=30_000)
    assert live.count() == 0  # the run ended: nothing streams
    print(f"FIGURE panel_stream_elsewhere shown_while_running=1 first_chars={len(first)}")
    assert browser.console_errors == [], browser.console_errors


def test_panel_shows_an_image_artifact_inline(lab: Lab, browser: Browser) -> None:
    page = browser.page
    open_panel(page, lab)
    page.locator(f".sgr-Panel-run[data-run-id='{lab.runs['chart']}']").click()
    page.locator(".sgr-Panel-step[data-step-id='plot'] summary").click()
    img = page.locator(".sgr-Panel-step[data-step-id='plot'] img.sgr-Panel-image")
    img.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => document.querySelector('img.sgr-Panel-image')?.naturalWidth === 24",
        timeout=30_000,
    )
    shot(page, "side_panel_artifact")
    assert browser.external == [], browser.external
