"""``python -m sgr_jupyter.demo``: run the quickstart notebook headless, write an HTML report.

Executes ``examples/01_quickstart.ipynb`` in a fresh kernel (offline: the notebook uses the
scripted provider), writes ``reports/quickstart.html`` and prints its path and a summary.
The committed notebook is not modified.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["main", "run_demo"]

_REPO = Path(__file__).resolve().parents[1]


def run_demo(notebook: Path, out_dir: Path) -> tuple[Path, list[str]]:
    """Execute ``notebook`` and write ``out_dir/<stem>.html``; returns (path, summary lines)."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, 4)
    with tempfile.TemporaryDirectory(prefix="sgr-demo-") as home:
        env_home = os.environ.get("SGR_HOME")
        os.environ["SGR_HOME"] = home
        try:
            NotebookClient(
                nb,
                timeout=300,
                kernel_name="python3",
                resources={"metadata": {"path": str(notebook.parent)}},
            ).execute()
        finally:
            if env_home is None:
                os.environ.pop("SGR_HOME", None)
            else:
                os.environ["SGR_HOME"] = env_home
    nb.metadata.pop("widgets", None)
    html, _ = HTMLExporter().from_notebook_node(nb)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sgr_jupyter.demo", description=__doc__)
    parser.add_argument("--notebook", type=Path, default=_REPO / "examples" / "01_quickstart.ipynb")
    parser.add_argument("--out", type=Path, default=_REPO / "reports")
    args = parser.parse_args(argv)
    path, summary = run_demo(args.notebook.resolve(), args.out.resolve())
    print(f"report: {path}")
    for line in summary:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
