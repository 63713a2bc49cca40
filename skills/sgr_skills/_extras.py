"""Optional dependencies of the heavy skills, checked where they are used: in the kernel
before any job is sent, and on the worker before a job starts."""

from __future__ import annotations

import importlib.util
import socket

__all__ = ["HEAVY", "missing", "require_on_worker"]

HEAVY = "pip install 'sgr-jupyter[heavy]'"


def missing(*modules: str) -> list[str]:
    """The modules of ``modules`` that cannot be imported here."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def require_on_worker(*modules: str) -> None:
    """Fail the job at once, naming the install, on a worker without the extra."""
    lacking = missing(*modules)
    if lacking:
        raise RuntimeError(
            f"worker {socket.gethostname()} lacks {', '.join(lacking)}: {HEAVY} where the "
            "workers run"
        )
