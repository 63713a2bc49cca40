"""nbval over every notebook in examples/ (outputs compared, volatile values sanitised)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("0*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_passes_nbval(notebook: Path, tmp_path: Path) -> None:
    env = {**os.environ, "SGR_HOME": str(tmp_path / "home")}
    env.pop("SGR_PROVIDER", None)  # each notebook picks its own provider
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            "sanitize.cfg",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "-q",
            notebook.name,
        ],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_notebooks_hold_no_widget_state() -> None:
    import nbformat

    assert len(NOTEBOOKS) >= 3
    for path in NOTEBOOKS:
        nb = nbformat.read(path, 4)
        assert "widgets" not in nb.metadata, f"{path.name}: run build_notebooks.py --strip"
