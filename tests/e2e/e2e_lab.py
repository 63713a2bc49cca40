"""Browser-test fixtures: a real ``jupyter lab`` on 127.0.0.1 and Debian's Chromium.

The server runs from a temp dir with a token; its kernels use the scripted provider (the
committed responses) and a temp ``SGR_HOME``. Chromium is driven by Playwright for Python with
``executable_path`` (never ``playwright install``); every request is recorded and any that
leaves 127.0.0.1 is aborted and listed, so a test can assert there were none.

Missing prerequisites (the built labextension, chromium) skip locally and FAIL under
``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
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

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
LABEXT = REPO / "sgr_jupyter" / "labextension" / "package.json"
RESPONSES = REPO / "examples" / "responses" / "01_quickstart.jsonl"
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require(ok: bool, what: str) -> None:
    """Skip when ``what`` is missing; under ``CI=true`` fail instead (browser tests must run)."""
    if ok:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI=true: browser tests must run)")
    pytest.skip(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LabServer:
    """A running JupyterLab: its base URL, token, notebook root and trace store."""

    url: str
    token: str
    root: Path
    home: Path

    def write_notebook(self, name: str, cells: list[str]) -> str:
        nb = new_notebook(
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        )
        nb.cells = [new_code_cell(src) for src in cells]
        nbformat.write(nb, self.root / name)
        return name


def start_lab(base: Path, env_extra: dict[str, str] | None = None) -> tuple[Any, LabServer]:
    """Start ``jupyter lab`` under ``base`` and wait until it answers; returns (proc, server)."""
    home, root, settings = base / "sgr-home", base / "nb", base / "settings"
    root.mkdir(parents=True)
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))
    token = "sgr-e2e"
    port = free_port()
    # Lab serves this tree's build of the labextension, not the copy an (editable) install
    # left in the environment's share/: the first of JUPYTER_PATH's labextensions wins.
    data = base / "jupyter-data"
    shutil.copytree(LABEXT.parent, data / "labextensions" / "sgr-jupyter")
    env = {
        **os.environ,
        "SGR_HOME": str(home),
        "SGR_PROVIDER": f"scripted:{RESPONSES}",
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTER_PATH": os.pathsep.join(
            [str(data), *filter(None, [os.environ.get("JUPYTER_PATH", "")])]
        ),
        **(env_extra or {}),
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
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc.log_file = log  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    while True:  # bounded by the test timeout; the process must stay up meanwhile
        assert proc.poll() is None, (base / "lab.log").read_text()
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    return proc, LabServer(url, token, root, home)


def stop_lab(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.log_file.close()


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    require(LABEXT.exists(), f"the labextension is not built ({LABEXT} is missing)")
    proc, server = start_lab(tmp_path_factory.mktemp("lab"))
    try:
        yield server
    finally:
        stop_lab(proc)


@dataclass
class Browser:
    """A Chromium page plus what the request router saw."""

    page: Any
    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require(CHROMIUM.exists(), "Debian chromium is missing (scripts/ensure-chromium.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            viewport={"width": 1400, "height": 1000},
            args=CHROMIUM_ARGS,
        )
        yield ctx
        ctx.close()


@pytest.fixture
def browser(chromium: Any) -> Iterator[Browser]:
    b = Browser(page=None)

    def route(r: Any) -> None:
        u = r.request.url
        b.requests.append(u)
        if u.startswith(LOCAL):
            r.continue_()
        else:
            b.external.append(u)
            r.abort()

    chromium.route("**/*", route)
    b.page = chromium.new_page()

    def on_console(m: Any) -> None:
        if m.type == "error":
            b.console_errors.append(m.text)
            print(f"console error: {m.text[:300]}")

    b.page.on("console", on_console)
    b.page.on("response", lambda r: print(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    yield b
    b.page.close()
    chromium.unroute("**/*", route)


def open_notebook(b: Browser, server: LabServer, name: str) -> None:
    """Open a notebook and wait until its kernel is idle."""
    # A workspace of its own, reset: Lab must not restore another test's notebook beside it.
    ws = Path(name).stem
    b.page.goto(f"{server.url}/lab/workspaces/{ws}/tree/{name}?token={server.token}&reset")
    b.page.wait_for_function(
        "() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel"
        "?.status === 'idle'",
        timeout=120_000,
    )


def run_all(b: Browser) -> None:
    b.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def shot(target: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path


DOC_IMAGES = REPO / "docs" / "images"


def doc_shot(target: Any, name: str) -> Path:
    """A screenshot for the docs (docs/images/NAME.png, embedded in README and docs/jupyter.md):
    the browser tests retake them, so the pictures stay current."""
    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    path = DOC_IMAGES / f"{name}.png"
    target.screenshot(path=str(path))
    return path


def kernel_run(page: Any, code: str) -> str:
    """Run ``code`` in the current notebook's kernel; return what it printed (stdout)."""
    return str(
        page.evaluate(
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
    )


PANEL_TAB = ".jp-SideBar .lm-TabBar-tab[data-id='sgr-runs-panel']"
"""The sgr runs side panel's tab in the left sidebar."""

# The smallest rendered size of the DAG's node labels, in CSS px, counting every transform
# (Mermaid's viewBox, the pan/zoom scale): font-size x rendered width / layout width. Only
# labels inside the DAG's visible box count when `visible` is true.
LABEL_PX = """([scope, visible]) => {
  const dag = document.querySelector(scope);
  const box = dag.querySelector('.sgr-dag-viewport').getBoundingClientRect();
  let min = Infinity, n = 0;
  for (const l of dag.querySelectorAll('g.node .nodeLabel')) {
    const r = l.getBoundingClientRect();
    if (!l.offsetWidth) continue;
    const out = r.right < box.left || r.left > box.right || r.bottom < box.top
      || r.top > box.bottom;
    if (visible && out) continue;
    const px = parseFloat(getComputedStyle(l).fontSize) * r.width / l.offsetWidth;
    min = Math.min(min, px); n += 1;
  }
  return {min, n};
}"""


# Text (not inside the DAG's SVG) whose WCAG contrast against the first opaque background
# behind it is under 4.5, and DAG edges under 3, inside every element matching `scope`.
LOW_CONTRAST = r"""(scope) => {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(',').map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = ({r, g, b}) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const bgOf = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const out = [];
  const low = (text, cls, k, color) => out.push({text, cls, ratio: +k.toFixed(2), color});
  for (const root of document.querySelectorAll(scope)) {
    for (const el of root.querySelectorAll('*')) {
      if (el.closest('svg')) continue;
      const own = [...el.childNodes].filter(n => n.nodeType === 3)
        .map(n => n.textContent.trim()).join('');
      if (!own) continue;
      const r = el.getBoundingClientRect();
      const st = getComputedStyle(el);
      if (!r.width || !r.height || st.visibility === 'hidden' || +st.opacity === 0) continue;
      const k = ratio(parse(st.color), bgOf(el));
      if (k < 4.5) low(own.slice(0, 40), el.className, k, st.color);
    }
    const edges = 'svg .edgePath path, svg path.flowchart-link, svg .edgePaths path';
    for (const p of root.querySelectorAll(edges)) {
      const stroke = getComputedStyle(p).stroke;
      const c = parse(stroke);
      if (!c) continue;
      const k = ratio(c, bgOf(p.closest('svg')));
      if (k < 3) low('edge', 'edge', k, stroke);
    }
  }
  return out;
}"""
