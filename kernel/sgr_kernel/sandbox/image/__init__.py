"""The ``sgr-sandbox`` image recipe: Debian packages, pinned wheels and the in-container runner.

These files are data: ``sgr_kernel.sandbox._build`` hashes them into the image tag and copies
them into the build context. ``runner.py`` runs inside the container only.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEBS", "HERE", "REQUIREMENTS", "RUNNER"]

HERE = Path(__file__).resolve().parent
DEBS = HERE / "debs.txt"
REQUIREMENTS = HERE / "requirements.txt"
RUNNER = HERE / "runner.py"
