from __future__ import annotations

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib: helpers beside the tests are importable only once
# their folder is on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from e2e_lab import browser, chromium, lab_server

__all__ = ["browser", "chromium", "lab_server"]
