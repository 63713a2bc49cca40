"""Test helpers on the path: ``heavy_helpers``, ``fixture_site`` (research) and ``dask_procs``."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent / "research", HERE.parents[1] / "kernel" / "dispatch"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
