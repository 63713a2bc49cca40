from __future__ import annotations

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib: put the shared tally beside these tests on the path.
sys.path.insert(0, str(Path(__file__).parent))
