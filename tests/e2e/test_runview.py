"""The RunView widget in a real JupyterLab (Debian Chromium, Playwright for Python).

- the quickstart cell (scripted provider) draws the plan as a Mermaid SVG through the
  labextension's Mermaid (our patched flow-only bundle, served by Jupyter once) and its nodes
  end COMMITTED;
- a plan with an approval gate: the gated node waits, Approve is clicked in the widget while
  the run is live, and the run finishes;
- without the labextension's hook the widget fetches the bundled flow-only Mermaid over the
  comm, once, and still draws an SVG (this guards the bundle's stubbing of Mermaid's chunks);
- no request leaves 127.0.0.1; screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e_lab import Browser, LabServer, open_notebook, run_all, shot

pytestmark = [pytest.mark.lab, pytest.mark.slow]

TASK = "What is the capital of France?"
GATE = """%%sgr --plan --name gate
steps:
  - {id: draft, skill: format, inputs: {template: draft}}
  - id: publish
    skill: format
    requires_approval: true
    inputs: {template: "${draft.output.text}!"}
  - {id: notify, skill: format, inputs: {template: "sent ${publish.output.text}"}}"""

# Records every colour a DAG node takes, in order, so a test can show the states changed.
WATCH = """() => {
  window.__sgrSeen = [];
  new MutationObserver((ms) => { for (const m of ms) {
    const g = m.target; window.__sgrSeen.push([g.getAttribute('data-sgr-step'),
      g.getAttribute('data-sgr-status')]); } })
    .observe(document.body, {subtree: true, attributes: true,
                             attributeFilter: ['data-sgr-status']});
}"""


def node_states(page: Any, scope: str = ".sgr-rv") -> dict[str, str]:
    return page.evaluate(
        """(scope) => Object.fromEntries([...document.querySelectorAll(
             `${scope} .dag svg g.node[data-sgr-step]`)].map(
             (g) => [g.getAttribute('data-sgr-step'), g.getAttribute('data-sgr-status')]))""",
        scope,
    )


def test_quickstart_cell_draws_a_live_dag(lab_server: LabServer, browser: Browser) -> None:
    page = browser.page
    name = lab_server.write_notebook(
        "quickstart.ipynb", ["%load_ext sgr_jupyter", f"%%sgr\n{TASK}"]
    )
    open_notebook(browser, lab_server, name)
    assert page.evaluate("() => !!globalThis.__sgrMermaidManager"), "labextension hook missing"
    page.evaluate(WATCH)
    run_all(browser)

    page.locator(".sgr-rv [data-sgr-run-status='COMPLETED']").wait_for(timeout=60_000)
    page.locator(".sgr-rv .dag[data-sgr-rendered='1'] svg g.node").first.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.sgr-rv g.node[data-sgr-step]')]"
        ".every((g) => g.getAttribute('data-sgr-status') === 'COMMITTED')",
        timeout=30_000,
    )
    states = node_states(page)
    assert states == {"s1": "COMMITTED"}  # the scripted plan: one answer step
    # Mermaid drew the node's label, and the live colour is the committed class.
    svg = page.locator(".sgr-rv .dag svg")
    assert "answer" in (svg.text_content() or "")
    assert page.locator(".sgr-rv g.node.sgr_committed").count() == 1
    # The colour the user sees is the kernel's committed style (graph/mermaid.py: #dcfce7).
    fill = page.evaluate(
        "() => getComputedStyle(document.querySelector("
        "'.sgr-rv g.node[data-sgr-step] :is(rect,path,polygon)')).fill"
    )
    assert fill == "rgb(220, 252, 231)", fill
    seen = page.evaluate("() => window.__sgrSeen")
    assert seen[-1] == ["s1", "COMMITTED"]
    # It drew through our patched flow-only Mermaid, which Jupyter serves from the
    # labextension's static folder (labextension/src/mermaid.ts), not through Lab's own.
    fast = [u for u in browser.requests if u.split("?")[0].endswith("/static/sgr-mermaid.js")]
    assert len(fast) == 1, fast
    shot(page.locator(".sgr-rv").first, "runview_quickstart")
    shot(page, "runview_quickstart_page")
    print(
        f"FIGURE runview_quickstart nodes={len(states)} transitions={seen} "
        f"requests={len(browser.requests)} external_requests={len(browser.external)} "
        f"console_errors={len(browser.console_errors)}"
    )
    assert browser.external == [], browser.external


def test_approve_in_the_widget_while_the_run_is_live(
    lab_server: LabServer, browser: Browser
) -> None:
    page = browser.page
    name = lab_server.write_notebook("approval.ipynb", ["%load_ext sgr_jupyter", GATE])
    open_notebook(browser, lab_server, name)
    page.evaluate(WATCH)
    run_all(browser)

    approve = page.locator(".sgr-rv button.sgr-approve[data-step='publish']")
    approve.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelector(\".sgr-rv g.node[data-sgr-step='publish']\")"
        "?.getAttribute('data-sgr-status') === 'WAITING_APPROVAL'",
        timeout=30_000,
    )
    before = node_states(page)
    assert before == {"draft": "COMMITTED", "publish": "WAITING_APPROVAL", "notify": "PENDING"}
    assert page.locator(".sgr-rv [data-sgr-run-status]").get_attribute(
        "data-sgr-run-status"
    ) not in ("COMPLETED", "FAILED")
    shot(page.locator(".sgr-rv").first, "runview_waiting_approval")

    approve.click()
    page.locator(".sgr-rv [data-sgr-run-status='COMPLETED']").wait_for(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelectorAll('.sgr-rv g.node.sgr_committed').length === 3",
        timeout=30_000,
    )
    after = node_states(page)
    assert after == dict.fromkeys(("draft", "publish", "notify"), "COMMITTED")
    assert page.locator(".sgr-rv .notice").inner_text() == ""
    # Click a node: its detail (inputs, output) opens beside the DAG.
    page.locator(".sgr-rv g.node[data-sgr-step='notify']").click()
    page.get_by_text("Step notify").wait_for(timeout=30_000)
    assert "sent draft!" in page.locator(".sgr-rv .side").inner_text()
    shot(page.locator(".sgr-rv").first, "runview_approved")
    seen = [s for s in page.evaluate("() => window.__sgrSeen") if s[0] == "publish"]
    print(
        f"FIGURE runview_approval publish_transitions={[s[1] for s in seen]} "
        f"external_requests={len(browser.external)} console_errors={len(browser.console_errors)}"
    )
    assert [s[1] for s in seen][-2:] == ["WAITING_APPROVAL", "COMMITTED"] or (
        "WAITING_APPROVAL" in [s[1] for s in seen] and seen[-1][1] == "COMMITTED"
    )
    assert browser.external == [], browser.external


def test_without_the_hook_the_bundle_comes_over_the_comm_once(
    lab_server: LabServer, browser: Browser
) -> None:
    page = browser.page
    plan = (
        "%%sgr --plan --wait\nname: fallback\nsteps:\n"
        "  - {id: a, skill: format, inputs: {template: x}}\n"
        '  - {id: b, skill: format, inputs: {template: "${a.output.text}y"}}'
    )
    name = lab_server.write_notebook("fallback.ipynb", ["%load_ext sgr_jupyter", plan, plan])
    open_notebook(browser, lab_server, name)
    # What a front end without our labextension looks like (Notebook 7, VS Code...).
    page.evaluate("() => { delete globalThis.__sgrMermaidManager; }")
    run_all(browser)
    page.wait_for_function(
        "() => document.querySelectorAll('.sgr-rv .dag[data-sgr-rendered=\"1\"]').length === 2",
        timeout=90_000,
    )
    assert page.evaluate("() => !!globalThis.__sgrMermaidBundle")
    for scope in (".jp-Cell:nth-child(2) .sgr-rv", ".jp-Cell:nth-child(3) .sgr-rv"):
        assert node_states(page, scope) == {"a": "COMMITTED", "b": "COMMITTED"}
    sent = int(
        kernel_print(page, "from sgr_jupyter.widgets import RunView as V; print(V.bundles_sent)")
    )
    shot(page.locator(".sgr-rv").first, "runview_fallback_bundle")
    print(
        f"FIGURE runview_fallback widgets=2 bundles_sent={sent} "
        f"external_requests={len(browser.external)}"
    )
    assert sent == 1  # once per page, not once per widget
    assert browser.external == [], browser.external


def kernel_print(page: Any, code: str) -> str:
    """Run ``code`` in the notebook's kernel and return what it printed."""
    return page.evaluate(
        """async (code) => {
          const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          const f = k.requestExecute({code});
          let out = "";
          f.onIOPub = (m) => { if (m.header.msg_type === "stream") out += m.content.text; };
          await f.done;
          return out.trim();
        }""",
        code,
    )


def test_a_big_plan_is_drawn_as_a_grid_that_colours_live(
    lab_server: LabServer, browser: Browser
) -> None:
    page = browser.page
    n = 400  # over the DagView's MAX_DAG_NODES (300): a 250-step plan gets a Mermaid layout
    steps = "\\n".join(
        f"  - {{id: s{i}, skill: format, inputs: {{template: x}}"
        + (f", depends_on: [s{i - 10}]" if i >= 10 else "")
        + "}"
        for i in range(n)
    )
    code = (
        f'plan = "name: big\\nbudget: {{max_steps: {n}}}\\nsteps:\\n{steps}"\n'
        'get_ipython().run_cell_magic("sgr", "--plan --durability batch", plan)'
    )
    name = lab_server.write_notebook("big.ipynb", ["%load_ext sgr_jupyter", code])
    open_notebook(browser, lab_server, name)
    run_all(browser)
    page.locator(".sgr-rv .dag[data-sgr-rendered='grid']").wait_for(timeout=90_000)
    page.wait_for_function(
        "(n) => document.querySelectorAll("
        "'.sgr-rv .grid .cell[data-sgr-status=\"COMMITTED\"]').length === n",
        arg=n,
        timeout=90_000,
    )
    assert page.locator(".sgr-rv .dag svg").count() == 0  # no Mermaid layout for 400 nodes
    page.locator(".sgr-rv .grid .cell[data-sgr-step='s7']").click()
    page.get_by_text("Step s7").wait_for(timeout=30_000)
    shot(page.locator(".sgr-rv").first, "runview_big_plan_grid")
    print(f"FIGURE runview_grid steps={n} external_requests={len(browser.external)}")
    assert browser.external == [], browser.external
