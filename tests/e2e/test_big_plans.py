"""Big plans in a real JupyterLab + Chromium: a 250-step plan in the RunView and a 120-step
plan in the side panel are laid out by Mermaid, fitted no smaller than readable (every visible
node label measures at least 11 CSS px), zoomed and expanded to the whole window, and a node's
detail opens on a click.

Screenshots go to docs/images/ (docs/jupyter.md embeds them).
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e_lab import (
    LABEL_PX,
    PANEL_TAB,
    Browser,
    LabServer,
    doc_shot,
    open_notebook,
    run_all,
    shot,
)

pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.timeout(300)]

READABLE = 11.0


NODE_IN_VIEW = """(scope) => {
  const box = document.querySelector(scope + ' .sgr-dag-viewport').getBoundingClientRect();
  for (const g of document.querySelectorAll(scope + ' g.node[data-sgr-step]')) {
    const r = g.getBoundingClientRect();
    if (r.left > box.left && r.right < box.right && r.top > box.top && r.bottom < box.bottom)
      return g.getAttribute('data-sgr-step');
  }
  return null; }"""


def click_a_node_in_view(page: Any, dag: str) -> str:
    """Click a DAG node wholly inside the view of the DAG at ``dag``; its step id."""
    step = page.evaluate(NODE_IN_VIEW, dag)
    assert step is not None, f"no node of {dag} is in view"
    page.locator(f"{dag} g.node[data-sgr-step='{step}']").click()
    return str(step)


def big_plan_cell(n: int, width: int) -> str:
    steps = "\\n".join(
        f"  - {{id: s{i}, skill: format, inputs: {{template: x}}"
        + (f", depends_on: [s{i - width}]" if i >= width else "")
        + "}"
        for i in range(n)
    )
    return (
        f'plan = "name: big\\nbudget: {{max_steps: {n + 50}}}\\nsteps:\\n{steps}"\n'
        'get_ipython().run_cell_magic("sgr", "--plan --durability batch", plan)'
    )


def test_a_250_step_plan_is_readable(lab_server: LabServer, browser: Browser) -> None:
    page = browser.page
    n = 250
    name = lab_server.write_notebook(
        "big250.ipynb", ["%load_ext sgr_jupyter", big_plan_cell(n, 10)]
    )
    open_notebook(browser, lab_server, name)
    run_all(browser)
    dag = ".sgr-rv .sgr-dag"
    page.locator(f"{dag}[data-sgr-rendered='1'] svg").wait_for(timeout=120_000)
    page.wait_for_function(
        "(n) => document.querySelectorAll("
        "'.sgr-rv g.node[data-sgr-status=\"COMMITTED\"]').length === n",
        arg=n,
        timeout=120_000,
    )
    assert page.locator(f"{dag} svg g.node[data-sgr-step]").count() == n  # laid out, no grid
    fitted = page.evaluate(LABEL_PX, [dag, True])
    assert fitted["n"] > 0 and fitted["min"] >= READABLE, fitted
    direction = page.locator(dag).get_attribute("data-sgr-direction")
    doc_shot(page.locator(dag).first, "widget-large-plan")

    page.locator(f"{dag} .sgr-dag-zoomin").click()
    page.wait_for_timeout(400)  # the zoom's transform lands on the next frame
    zoomed = page.evaluate(LABEL_PX, [dag, True])
    assert zoomed["min"] > fitted["min"], (zoomed, fitted)

    page.locator(f"{dag} .sgr-dag-expand").click()
    # Expanded, the DAG covers the window (it moves to the page's body meanwhile).
    big = ".sgr-dag.sgr-dag-expanded"
    page.locator(big).wait_for(timeout=10_000)
    page.wait_for_timeout(400)
    box = page.locator(f"{big} .sgr-dag-viewport").bounding_box()
    assert box is not None and box["width"] >= 1300 and box["height"] >= 900, box
    expanded = page.evaluate(LABEL_PX, [big, True])
    assert expanded["n"] > fitted["n"] and expanded["min"] >= READABLE, (expanded, fitted)
    shot(page, "runview_big_plan_expanded")
    doc_shot(page, "widget-large-plan-expanded")
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => !document.querySelector('.sgr-dag.sgr-dag-expanded')"
        " && document.querySelector('.sgr-rv .sgr-dag')",
        timeout=10_000,
    )

    # A click on a node (one in view) opens its detail.
    step = click_a_node_in_view(page, dag)
    page.get_by_text(f"Step {step}", exact=True).wait_for(timeout=30_000)
    print(
        f"FIGURE widget_250 steps={n} direction={direction} "
        f"label_px_fitted={fitted['min']:.1f} label_px_zoomed={zoomed['min']:.1f} "
        f"label_px_expanded={expanded['min']:.1f} labels_in_view_fitted={fitted['n']} "
        f"labels_in_view_expanded={expanded['n']} external_requests={len(browser.external)}"
    )
    assert browser.external == [], browser.external


def test_the_side_panel_lists_times_and_reads_a_big_plan(
    lab_server: LabServer, browser: Browser
) -> None:
    page = browser.page
    n = 120
    cell = big_plan_cell(n, 6).replace("name: big", "name: panel-big")
    name = lab_server.write_notebook("panelbig.ipynb", ["%load_ext sgr_jupyter", cell])
    open_notebook(browser, lab_server, name)
    run_all(browser)
    page.locator(".sgr-rv [data-sgr-run-status='COMPLETED']").wait_for(timeout=120_000)
    page.locator(PANEL_TAB).click()
    row = page.locator(".sgr-Panel-run", has_text="panel-big").first
    row.wait_for(timeout=30_000)
    meta = row.locator(".sgr-Panel-when").inner_text()
    # Start time, duration and the plan's own step count (no internal planning step).
    assert meta.startswith("started ") and " · took " in meta, meta
    assert meta.endswith(f"{n}/{n} steps") or f"{n}/{n} steps committed" in meta, meta
    doc_shot(page, "side-panel")

    row.click()
    dag = ".sgr-Panel-dag"
    page.locator(f"{dag}[data-sgr-rendered='1'] svg").wait_for(timeout=120_000)
    page.wait_for_timeout(500)
    fitted = page.evaluate(LABEL_PX, [dag, True])
    assert fitted["n"] > 0 and fitted["min"] >= READABLE, fitted
    doc_shot(page, "side-panel-run")
    # A click on a node in view opens that step's details in the list below.
    step = click_a_node_in_view(page, dag)
    page.locator(f".sgr-Panel-step[data-step-id='{step}'][open]").wait_for(timeout=10_000)
    page.locator(f"{dag} .sgr-dag-expand").click()
    big = ".sgr-dag.sgr-dag-expanded"
    page.locator(big).wait_for(timeout=10_000)
    page.wait_for_timeout(400)
    expanded = page.evaluate(LABEL_PX, [big, True])
    assert expanded["n"] > fitted["n"] and expanded["min"] >= READABLE, (expanded, fitted)
    page.keyboard.press("Escape")
    print(
        f"FIGURE panel_big steps={n} label_px_fitted={fitted['min']:.1f} "
        f"label_px_expanded={expanded['min']:.1f} labels_in_view_fitted={fitted['n']} "
        f"labels_in_view_expanded={expanded['n']} external_requests={len(browser.external)}"
    )
    assert browser.external == [], browser.external
