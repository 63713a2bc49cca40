"""``python -m sgr_jupyter.demo``: run the quickstart notebook headless, write an HTML report.

Executes a copy of ``examples/01_quickstart.ipynb`` in a fresh kernel on the embedded
defaults — the local model, offline, with nothing configured — writes
``reports/01_quickstart.html`` and prints its path and a summary. The committed notebook pins
the scripted provider so its outputs are stable under nbval; the demo drops that line
(``--scripted`` keeps it). The committed notebook is not modified.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from sgr_jupyter._report import escape_mermaid_pre, static_record

__all__ = ["main", "run_demo"]

_REPO = Path(__file__).resolve().parents[1]


_PINNED_PROVIDER = re.compile(r"^%config SgrMagics\.provider\b")


def _use_embedded_defaults(nb: Any) -> None:
    """Drop the cell that pins a provider, so the run uses whatever is configured — the
    embedded local model when nothing is."""
    from nbformat.v4 import new_markdown_cell

    kept = [c for c in nb.cells if not _PINNED_PROVIDER.match("".join(c.source).strip())]
    if len(kept) != len(nb.cells):
        note = new_markdown_cell(
            "*This copy was run by `make demo` without the notebook's `%config` line, so it ran on "
            "the embedded defaults: the local model, offline. Its answers are a small model's; "
            "the plan, the trace and the replay are the real thing.*"
        )
        kept.insert(1, note)
    nb.cells = kept


def run_demo(notebook: Path, out_dir: Path, *, scripted: bool = False) -> tuple[Path, list[str]]:
    """Execute ``notebook`` and write ``out_dir/<stem>.html``; returns (path, summary lines).

    With ``scripted`` the notebook's pinned provider is kept; otherwise the embedded defaults
    are used (see :func:`_use_embedded_defaults`).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    nb = nbformat.read(notebook, 4)
    if not scripted:
        _use_embedded_defaults(nb)
    with tempfile.TemporaryDirectory(prefix="sgr-demo-") as home:
        env_home = os.environ.get("SGR_HOME")
        os.environ["SGR_HOME"] = home
        try:
            # IPC sockets in the run's own folder, not TCP on loopback: nothing else on this
            # machine can connect to the kernel that runs the notebook.
            ipc = Config()
            ipc.KernelManager.transport = "ipc"
            ipc.KernelManager.ip = str(Path(home) / "kernel")
            NotebookClient(
                nb,
                config=ipc,
                timeout=300,
                kernel_name="python3",
                resources={"metadata": {"path": str(notebook.parent)}},
            ).execute()
        finally:
            if env_home is None:
                os.environ.pop("SGR_HOME", None)
            else:
                os.environ["SGR_HOME"] = env_home
    _finished_views(nb)
    html, _ = _offline_exporter(HTMLExporter).from_notebook_node(nb)
    html = escape_mermaid_pre(_REMOTE_SCRIPT.sub("", html))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{notebook.stem}.html"
    path.write_text(html, encoding="utf-8")
    summary = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/plain") or out.get("text") or ""
            if text.startswith(("run '", "strict replay")):
                summary.append(text.splitlines()[0])
    return path, summary


_VIEW = "application/vnd.jupyter.widget-view+json"


def _finished_views(nb: Any) -> None:
    """Replace each live RunView output with a static record of how its run ended (from the
    widget state the execution saved): a report has no kernel, so nothing in it may look live."""
    widgets = nb.metadata.pop("widgets", {}) or {}
    models = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(_VIEW)
            if not isinstance(view, dict):
                continue
            model = models.get(view.get("model_id"), {}).get("state")
            if isinstance(model, dict) and "phase" in model:
                out["data"] = static_record(model)


# nbconvert's template loads require.js, MathJax and Mermaid from a CDN; the report must open
# offline, so those are dropped (require.js, MathJax: the report has no widgets or maths) or
# inlined (our flow-only Mermaid bundle draws the DAG of `%sgr show`).
_REMOTE_SCRIPT = re.compile(
    r"<script[^>]*\bsrc=[\"'](?:https?://[^\"']*)?[\"'][^>]*>\s*</script>", re.I
)


def _offline_exporter(exporter_cls: Any) -> Any:
    from sgr_jupyter._paths import mermaid_bundle

    bundle = mermaid_bundle()
    mermaid = ""
    if bundle.is_file():
        mermaid = "data:text/javascript;base64," + base64.b64encode(bundle.read_bytes()).decode()
    return exporter_cls(
        mermaid_js_url=mermaid,
        mermaid_layout_elk_js_url="",
        mathjax_url="",
        require_js_url="",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sgr_jupyter.demo", description=__doc__)
    parser.add_argument("--notebook", type=Path, default=_REPO / "examples" / "01_quickstart.ipynb")
    parser.add_argument("--out", type=Path, default=_REPO / "reports")
    parser.add_argument(
        "--scripted", action="store_true", help="keep the notebook's scripted provider"
    )
    args = parser.parse_args(argv)
    path, summary = run_demo(args.notebook.resolve(), args.out.resolve(), scripted=args.scripted)
    print(f"report: {path}")
    for line in summary:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
