"""The RunView in a real JupyterLab + Chromium: the disconnected state, big plans you can read,
live progress, failures and answers (issue 13's front end).

- a kernel restart while a run waits for approval: the live view says DISCONNECTED and the
  command to run (`%sgr resume RUN_ID`); re-executing the cell attaches a new live view;
- a view fed by its kernel: the header's true phase, streamed text visible while the step still
  runs, a progress bar with its message, a ticking elapsed time, budget meters, a heartbeat that
  stops (DISCONNECTED), a FAILED run in red with its traceback's lines (collapsible) and why it
  was not retried, and the final answer rendered as sanitised Markdown.

Screenshots go to docs/images/ (README.md and docs/jupyter.md embed them).
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

import pytest
from e2e_lab import (
    PANEL_TAB,
    Browser,
    LabServer,
    doc_shot,
    kernel_run,
    open_notebook,
    require,
    run_all,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from test_runview import GATE

pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.timeout(300)]

READABLE = 11.0


def phase(page: Any, scope: str = ".sgr-rv") -> str:
    return str(page.locator(scope).first.get_attribute("data-sgr-phase"))


def test_a_kernel_restart_is_seen_by_the_live_widget(
    lab_server: LabServer, browser: Browser
) -> None:
    page = browser.page
    name = lab_server.write_notebook("restart.ipynb", ["%load_ext sgr_jupyter", GATE])
    open_notebook(browser, lab_server, name)
    run_all(browser)
    page.locator(".sgr-rv button.sgr-approve[data-step='publish']").wait_for(timeout=60_000)
    assert phase(page) == "WAITING_FOR_APPROVAL"  # the header's true state, not RUNNING
    page.locator(".sgr-rv .sgr-dag[data-sgr-rendered='1'] svg").wait_for(timeout=60_000)
    doc_shot(page.locator(".sgr-rv").first, "widget-approval")

    page.evaluate("() => { void window.jupyterapp.commands.execute('kernelmenu:restart'); }")
    with contextlib.suppress(PlaywrightTimeout):  # Lab asks first
        page.locator(".jp-Dialog .jp-mod-accept").click(timeout=5_000)
    page.locator(".sgr-rv[data-sgr-phase='DISCONNECTED']").wait_for(timeout=60_000)
    message = page.locator(".sgr-rv .sgr-disconnected").inner_text()
    run_ids = page.evaluate(
        "() => [...document.querySelectorAll('.sgr-rv')].map((e) => e.textContent)"
    )
    assert "the kernel that ran this view is gone" in message, message
    assert "%sgr resume " in message and "RUN_ID" not in message, message
    assert page.locator(".sgr-rv button.sgr-approve").count() == 0  # nothing to click into
    tone = page.evaluate(
        "() => getComputedStyle(document.querySelector('.sgr-rv .st')).backgroundColor"
    )
    assert tone == "rgb(220, 38, 38)", tone
    doc_shot(page.locator(".sgr-rv").first, "widget-disconnected")

    # Re-executing the cells (new kernel) attaches a new live view.
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        ".status === 'idle'",
        timeout=60_000,
    )
    run_all(browser)
    page.wait_for_function(
        "() => { const v = document.querySelector('.sgr-rv');"
        " return v && v.dataset.sgrPhase === 'WAITING_FOR_APPROVAL'"
        " && v.querySelector('button.sgr-approve'); }",
        timeout=60_000,
    )
    print(
        f"FIGURE widget_restart disconnected_shown=1 reattached=1 views={len(run_ids)} "
        f"external_requests={len(browser.external)}"
    )
    assert browser.external == [], browser.external


def test_a_kernel_that_stops_beating_is_seen_and_a_live_one_comes_back(
    lab_server: LabServer, browser: Browser
) -> None:
    """The kernel's own heartbeat (every 2 s while a run lives in it): the kernel process is
    frozen (SIGSTOP) while its run waits for approval, and the view says DISCONNECTED; thawed
    (SIGCONT), it beats again and the view is live again."""
    page = browser.page
    name = lab_server.write_notebook("frozen.ipynb", ["%load_ext sgr_jupyter", GATE])
    open_notebook(browser, lab_server, name)
    run_all(browser)
    page.locator(".sgr-rv button.sgr-approve[data-step='publish']").wait_for(timeout=60_000)
    pid = int(kernel_run(page, "import os; print(os.getpid())"))
    beats = page.evaluate(
        "() => new Promise((ok) => { const v = document.querySelector('.sgr-rv');"
        " const seen = new Set(); const t = setInterval(() => {"
        " seen.add(v.querySelector('.sgr-clock').textContent); if (seen.size > 2) {"
        " clearInterval(t); ok(seen.size); } }, 500); })"
    )
    assert beats > 2  # the run's clock moves while the kernel lives
    os.kill(pid, signal.SIGSTOP)
    try:
        page.locator(".sgr-rv[data-sgr-phase='DISCONNECTED']").wait_for(timeout=60_000)
        assert "%sgr resume " in page.locator(".sgr-rv .sgr-disconnected").inner_text()
    finally:
        os.kill(pid, signal.SIGCONT)
    page.locator(".sgr-rv[data-sgr-phase='WAITING_FOR_APPROVAL']").wait_for(timeout=60_000)
    page.locator(".sgr-rv button.sgr-approve[data-step='publish']").click()
    page.locator(".sgr-rv[data-sgr-phase='COMPLETED']").wait_for(timeout=60_000)
    print(
        "FIGURE widget_heartbeat frozen_shown_disconnected=1 thawed_live_again=1 "
        f"completed_after=1 external_requests={len(browser.external)}"
    )
    assert browser.external == [], browser.external


LIVE_VIEW = """
import time
from IPython.display import display
from sgr_jupyter.widgets import RunView
from sgr_kernel.models.plan import parse_plan
plan = parse_plan(
    "name: live\\nsteps:\\n"
    "  - {id: fetch, skill: format, inputs: {template: x}}\\n"
    "  - {id: summarise, skill: format, inputs: {template: '${fetch.output.text}'}}\\n"
    "  - {id: report, skill: format, inputs: {template: '${summarise.output.text}'}}\\n"
)
v = RunView(name="live", plan=plan)
v.run_id = "r-live"
display(v)
"""

TRACEBACK = (
    "Traceback (most recent call last):\\n"
    '  File \\"/work/step.py\\", line 3, in <module>\\n'
    "    total = rows / count\\n"
    "ZeroDivisionError: division by zero"
)


def test_live_progress_failure_and_answer(lab_server: LabServer, browser: Browser) -> None:
    """What the kernel feeds a live view (phase, clock, streamed tokens, remote progress, budget,
    errors, answer) is what the user sees, while it happens."""
    page = browser.page
    name = lab_server.write_notebook("live.ipynb", [LIVE_VIEW])
    open_notebook(browser, lab_server, name)
    run_all(browser)
    rv = page.locator(".sgr-rv").first
    page.locator(".sgr-rv .sgr-dag[data-sgr-rendered='1'] svg").wait_for(timeout=60_000)

    # Planning: the model's tokens show before there is a plan to run.
    kernel_run(
        page,
        "v.phase = 'PLANNING'; v.t0 = time.time(); v.elapsed = 0.2; v.heartbeat = 1\n"
        "v.stream = {'__plan__': 'Plan: fetch the rows, then'}",
    )
    page.locator(".sgr-rv .sgr-planning .sgr-stream", has_text="fetch the rows").wait_for(
        timeout=30_000
    )
    assert phase(page) == "PLANNING"

    # Running: a remote step with a progress bar, streamed text, a ticking clock.
    kernel_run(
        page,
        "v.phase = 'RUNNING'; v.states = {'fetch': 'RUNNING'}; v.started = {'fetch': 0.5}\n"
        "v.elapsed = 1.0; v.heartbeat = 2\n"
        "v.progress = {'fetch': {'fraction': 0.4, 'message': 'chunk 8/20 on worker-1',"
        " 'metrics': {}, 't': 1.0}}\n"
        "v.stream = {'fetch': 'The rows are'}\n"
        "v.budget = {'steps': [1, 3], 'tokens': [950, 1000]}",
    )
    row = page.locator(".sgr-rv .sgr-run-row[data-sgr-step='fetch']")
    row.locator(".sgr-progress[data-sgr-percent='40']").wait_for(timeout=30_000)
    assert "chunk 8/20 on worker-1" in row.inner_text()
    assert row.locator(".sgr-stream").inner_text() == "The rows are"
    kernel_run(page, "v.stream = {'fetch': 'The rows are loaded: 1,204 of them'}; v.heartbeat = 3")
    row.locator(".sgr-stream", has_text="1,204 of them").wait_for(timeout=30_000)
    # The text streamed while the step is still running (the node is not committed yet).
    node = page.locator(".sgr-rv g.node[data-sgr-step='fetch']")
    assert node.get_attribute("data-sgr-status") == "RUNNING"
    first = float(row.locator(".sgr-elapsed").get_attribute("data-sgr-seconds") or 0)
    page.wait_for_function(
        "(t) => Number(document.querySelector('.sgr-run-row .sgr-elapsed').dataset.sgrSeconds) > t",
        arg=first,
        timeout=30_000,
    )
    hot = page.locator(".sgr-rv .meter.hot[data-sgr-meter='tokens']")
    assert hot.count() == 1 and hot.get_attribute("data-sgr-percent") == "95"
    kernel_run(
        page,
        "v.progress = {'fetch': {'fraction': 0.85, 'message': 'chunk 17/20',"
        " 'metrics': {}, 't': 2.0}}; v.heartbeat = 4",
    )
    row.locator(".sgr-progress[data-sgr-percent='85']").wait_for(timeout=30_000)
    doc_shot(rv, "widget-progress")

    # The kernel stops beating (it hung or died without a restart): DISCONNECTED.
    page.locator(".sgr-rv[data-sgr-phase='DISCONNECTED']").wait_for(timeout=60_000)
    assert "%sgr resume r-live" in page.locator(".sgr-rv .sgr-disconnected").inner_text()
    kernel_run(page, "v.heartbeat = 5")  # it beats again: live again
    page.locator(".sgr-rv[data-sgr-phase='RUNNING']").wait_for(timeout=30_000)

    # A failure: red, the traceback's lines kept (folded), why it was not retried.
    kernel_run(
        page,
        "v.states = {'fetch': 'COMMITTED', 'summarise': 'FAILED', 'report': 'SKIPPED'}\n"
        "v.progress = {}; v.stream = {}\n"
        f"v.errors = {{'summarise': {{'type': 'ZeroDivisionError', 'message': 'division by zero',"
        f" 'traceback': \"{TRACEBACK}\", 'retried': False,"
        " 'why_not_retried': 'a deterministic code error: the same input fails the same way'}}\n"
        "v.status = 'FAILED'; v.phase = 'FAILED'; v.reason = 'step summarise failed'",
    )
    page.locator(".sgr-rv[data-sgr-phase='FAILED']").wait_for(timeout=30_000)
    colours = page.evaluate(
        """() => { const v = document.querySelector('.sgr-rv');
           const g = v.querySelector("g.node[data-sgr-step='summarise'] :is(rect,path,polygon)");
           return [getComputedStyle(v.querySelector('.st')).backgroundColor,
                   getComputedStyle(v).borderTopColor, getComputedStyle(g).fill]; }"""
    )
    assert colours == ["rgb(220, 38, 38)", "rgb(220, 38, 38)", "rgb(254, 226, 226)"], colours
    err = page.locator(".sgr-rv .sgr-errors .sgr-error[data-sgr-step='summarise']")
    assert "Not retried: a deterministic code error" in err.inner_text()
    tb = err.locator("details.sgr-traceback")
    assert tb.get_attribute("open") is None  # folded until asked for
    tb.locator("summary").click()
    lines = tb.locator("pre").inner_text().split("\n")
    assert lines[-2:] == ["    total = rows / count", "ZeroDivisionError: division by zero"], lines
    doc_shot(rv, "widget-failure")

    # The final answer, rendered as Markdown and sanitised.
    kernel_run(
        page,
        "v.errors = {}; v.status = 'COMPLETED'; v.phase = 'COMPLETED'; v.reason = ''\n"
        "v.states = {'fetch': 'COMMITTED', 'summarise': 'COMMITTED', 'report': 'COMMITTED'}\n"
        "v.answer = ('## Revenue by region\\n\\nThe **north** leads, `+12 %`:\\n\\n'"
        " '| region | revenue |\\n|---|---|\\n| north | 1,204 |\\n| south | 980 |\\n\\n'"
        " '<img src=x onerror=\"window.__pwned=1\">')",
    )
    answer = page.locator(".sgr-rv .sgr-answer")
    answer.locator("h2", has_text="Revenue by region").wait_for(timeout=30_000)
    assert answer.locator("strong").inner_text() == "north"
    assert answer.locator("table tr").count() == 3
    assert page.evaluate("() => window.__pwned === undefined")
    assert answer.locator("[onerror]").count() == 0
    assert answer.locator("img").count() == 0  # only data: images; never a request out
    doc_shot(rv, "widget-answer")
    print(
        f"FIGURE widget_live stream_before_commit=1 progress_shown=2 heartbeat_lost_shown=1 "
        f"failed_red=1 traceback_lines={len(lines)} answer_markdown=1 "
        f"external_requests={len(browser.external)} console_errors={len(browser.console_errors)}"
    )
    assert browser.external == [], browser.external


def test_a_real_run_shows_its_answer(lab_server: LabServer, browser: Browser) -> None:
    """The quickstart task (scripted provider): the kernel's answer lands in the view, rendered
    (Markdown), beside a COMPLETED header."""
    page = browser.page
    name = lab_server.write_notebook(
        "answer.ipynb", ["%load_ext sgr_jupyter", "%%sgr\nWhat is the capital of France?"]
    )
    open_notebook(browser, lab_server, name)
    run_all(browser)
    page.locator(".sgr-rv[data-sgr-phase='COMPLETED']").wait_for(timeout=90_000)
    answer = page.locator(".sgr-rv .sgr-answer")
    answer.wait_for(timeout=30_000)
    text = answer.inner_text()
    assert "Paris" in text, text
    assert answer.locator("pre").count() == 0 or "markdown" not in text.lower()
    # The planned step drawn (Mermaid renders after the answer can land): the picture shows it.
    page.locator(".sgr-rv .dag[data-sgr-rendered='1'] svg g.node").first.wait_for(timeout=30_000)
    doc_shot(page.locator(".sgr-rv").first, "widget-small-plan")
    print(f"FIGURE widget_real_answer chars={len(text)} external_requests={len(browser.external)}")
    assert browser.external == [], browser.external


FAILING = """%%sgr --plan
name: failing
steps:
  - {id: load, skill: python, inputs: {code: "rows = [3, 4]\\ncount = 0\\nrows[0] / count"}}
  - {id: report, skill: format, inputs: {template: "${load.output.value_repr}"}}
"""


@pytest.mark.docker
def test_a_real_failure_is_red_in_the_widget_and_the_panel(
    lab_server: LabServer, browser: Browser
) -> None:
    """A Python step that divides by zero in the Docker sandbox: the run is FAILED, red in the
    widget and in the side panel, with the error's text."""
    require(_docker_ok(), "the Docker sandbox is unusable (the failing step runs Python)")
    page = browser.page
    name = lab_server.write_notebook("failing.ipynb", ["%load_ext sgr_jupyter", FAILING])
    open_notebook(browser, lab_server, name)
    run_all(browser)
    page.locator(".sgr-rv[data-sgr-phase='FAILED']").wait_for(timeout=120_000)
    colours = page.evaluate(
        """() => { const v = document.querySelector('.sgr-rv');
           const g = v.querySelector("g.node[data-sgr-step='load'] :is(rect,path,polygon)");
           return [getComputedStyle(v.querySelector('.st')).backgroundColor,
                   getComputedStyle(g).fill]; }"""
    )
    assert colours == ["rgb(220, 38, 38)", "rgb(254, 226, 226)"], colours
    errors = page.locator(".sgr-rv .sgr-errors").inner_text()
    assert "ZeroDivisionError" in errors or "division by zero" in errors, errors

    page.locator(PANEL_TAB).click()
    page.locator(".sgr-Panel-run", has_text="failing").first.click()
    page.locator(".sgr-Panel-detailHead.sgr-mod-failed").wait_for(timeout=30_000)
    step = page.locator(".sgr-Panel-step.sgr-mod-failed[data-step-id='load']")
    step.locator("summary.sgr-Panel-stepHead").click()
    text = step.inner_text()
    assert "ZeroDivisionError" in text or "division by zero" in text, text
    doc_shot(page, "side-panel-failure")
    print(f"FIGURE real_failure widget_red=1 panel_red=1 external_requests={len(browser.external)}")
    assert browser.external == [], browser.external


def _docker_ok() -> bool:
    from sgr_kernel.errors import SandboxUnavailable
    from sgr_kernel.sandbox._client import connect, default_image, require_image

    try:
        require_image(connect(timeout=30), default_image())
    except SandboxUnavailable:
        return False
    return True
