from __future__ import annotations

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib: put the shared tally beside these tests on the path,
# and the Jupyter tests' helpers (a real jupyter-server for the REST fuzzing).
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent / "jupyter"))
