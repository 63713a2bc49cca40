"""The ``sgr`` command's one writer: results to stdout, diagnostics to stderr.

Every command (``cli.py``, ``cli_admin.py``, ``cli_cluster.py``) and the error boundary write
through these, never ``print`` (ruff's T20 rule refuses it).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from sgr_kernel.safety import safe_text

__all__ = ["emit", "err", "out"]


def out(text: str, *, flush: bool = False) -> None:
    """The one writer of the command's output (stdout): a line of text or a JSON document."""
    sys.stdout.write(text + "\n")
    if flush:
        sys.stdout.flush()


def emit(as_json: bool, data: Any, human: Callable[[], str]) -> None:
    """A command's result: ``data`` as JSON with ``--json``, else the human text (with
    terminal escapes made safe: step errors and outputs may hold them)."""
    if as_json:
        out(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        out(safe_text(human()))


def err(text: str) -> None:
    """The one writer of diagnostics (stderr): errors, hints, progress."""
    sys.stderr.write(text + "\n")
