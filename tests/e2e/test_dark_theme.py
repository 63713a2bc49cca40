"""The run view and the side panel under JupyterLab's light and dark themes: every text keeps a
WCAG contrast of at least 4.5 against what is behind it, and the DAG's edges at least 3, while
a run waits for approval and after it is denied."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_lab import (
    LOW_CONTRAST,
    PANEL_TAB,
    Browser,
    LabServer,
    doc_shot,
    open_notebook,
    run_all,
    shot,
)
from test_runview import GATE

pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.timeout(300)]


def _theme(page: Any, name: str, light: bool) -> None:
    page.evaluate(
        "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", name
    )
    page.wait_for_function(
        "(l) => document.body.dataset.jpThemeLight === l", arg="true" if light else "false"
    )
    page.wait_for_timeout(300)


def _low(page: Any) -> dict[str, list[dict[str, Any]]]:
    return {s: page.evaluate(LOW_CONTRAST, s) for s in (".sgr-rv", "#sgr-runs-panel")}


def test_both_themes_keep_every_text_and_edge_readable(
    lab_server: LabServer, browser: Browser
) -> None:
    page = browser.page
    name = lab_server.write_notebook("themes.ipynb", ["%load_ext sgr_jupyter", GATE])
    open_notebook(browser, lab_server, name)
    run_all(browser)
    page.locator(".sgr-rv button.sgr-approve").first.wait_for(timeout=60_000)
    page.locator(".sgr-rv .dag[data-sgr-rendered='1'] svg g.node").first.wait_for(timeout=30_000)
    page.locator(PANEL_TAB).click()
    page.locator(".sgr-Panel-run", has_text="gate").first.click()
    page.locator(".sgr-Panel-approve").first.wait_for(timeout=30_000)
    found: dict[str, Any] = {}
    for theme, light in (("JupyterLab Light", True), ("JupyterLab Dark", False)):
        _theme(page, theme, light)
        found[f"{theme}: waiting"] = _low(page)
    doc_shot(page.locator(".sgr-rv").first, "widget-dark")
    page.locator(".sgr-rv button.sgr-deny").first.click()
    page.locator(".sgr-rv[data-sgr-tone='bad']").wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # the panel's next poll
    for theme, light in (("JupyterLab Dark", False), ("JupyterLab Light", True)):
        _theme(page, theme, light)
        found[f"{theme}: denied"] = _low(page)
        shot(page, f"themes_{'light' if light else 'dark'}_denied")
    bad = {k: v for k, v in found.items() if any(v.values())}
    checked = len(found) * 2
    print(f"FIGURE themes views_checked={checked} low_contrast={sum(map(len, bad.values()))}")
    for k, v in bad.items():
        print(k, v)
    assert bad == {}, bad
