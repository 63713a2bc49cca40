"""Entry points of this checkout for ``sgr`` subprocesses, when the installed metadata is older.

The shared virtual environment holds the project's metadata as last installed; a checkout
that adds ``sgr.skills`` or ``sgr.cli`` entry points (in ``pyproject.toml``) is not seen by
``importlib.metadata`` until it is reinstalled. This writes the missing ones, and only those,
into a throw-away ``*.dist-info`` to put on ``PYTHONPATH``. After ``make venv`` nothing is
missing and it writes nothing.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def missing_entry_points() -> dict[str, dict[str, str]]:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    out: dict[str, dict[str, str]] = {}
    for group, eps in declared.items():
        have = {e.name for e in entry_points(group=group)}
        lack = {n: v for n, v in eps.items() if n not in have}
        if lack:
            out[group] = lack
    return out


def pythonpath_with_entry_points(tmp: Path, current: str = "") -> str:
    """``PYTHONPATH`` for a subprocess: this checkout first, plus any missing entry points."""
    paths = [str(ROOT / "kernel"), str(ROOT / "skills"), str(ROOT)]
    lack = missing_entry_points()
    if lack:
        dist = tmp / "eps" / "sgr_checkout_entry_points-0.dist-info"
        dist.mkdir(parents=True, exist_ok=True)
        (dist / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: sgr-checkout-entry-points\nVersion: 0\n"
        )
        text = "".join(
            f"[{g}]\n" + "".join(f"{n} = {v}\n" for n, v in eps.items()) + "\n"
            for g, eps in lack.items()
        )
        (dist / "entry_points.txt").write_text(text)
        paths.append(str(tmp / "eps"))
    return ":".join([*paths, *([current] if current else [])])
