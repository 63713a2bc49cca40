"""Makes ``tests/kernel`` (shared test skills) and this folder (the crash harness) importable."""

import sys
from pathlib import Path

for _p in (Path(__file__).resolve().parents[1], Path(__file__).resolve().parent):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))
