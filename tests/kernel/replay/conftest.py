"""Makes ``tests/kernel`` importable, for the shared test skills (``skills_for_tests``)."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parents[1])
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
