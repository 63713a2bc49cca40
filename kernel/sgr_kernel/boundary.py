"""The one map from the error tree to what every surface reports: exit code, code, message.

The CLI turns a :class:`Failure` into an exit code and a line (plus a JSON object with
``--json``); the magics into one ``UsageError`` line; the REST handlers into a status and the
same JSON shape. Messages are made safe for terminals and cut to a bounded length, because
they may quote what a user, a model or sandboxed code wrote. See ``docs/errors.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sgr_kernel.errors import (
    ReplayDivergenceError,
    SgrError,
    SgrUsageError,
    StepError,
    TraceCorruptError,
    TraceError,
    TraceLockedError,
)
from sgr_kernel.safety import clip, safe_text

__all__ = [
    "DEBUG_HINT",
    "EXIT_ABORTED",
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PAUSED",
    "EXIT_STORE",
    "EXIT_USAGE",
    "Failure",
    "classify",
    "debug_env",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PAUSED = 0, 1, 2, 3
EXIT_ABORTED, EXIT_CANCELLED, EXIT_STORE, EXIT_INTERRUPTED = 4, 5, 6, 130

MAX_MESSAGE = 4000
"""Longest error message printed; the rest is cut (it may echo a large input)."""


@dataclass(frozen=True)
class Failure:
    """What the boundary reports for one exception."""

    exit_code: int
    code: str
    """A stable, kebab-case name; usage codes link ``docs/errors.md#CODE``."""
    message: str
    hint: str | None = None

    def to_json(self, exc: BaseException) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error": self.code,
            "message": self.message,
            "exit_code": self.exit_code,
            "type": type(exc).__name__,
        }
        if self.hint:
            body["hint"] = self.hint
        return body


DEBUG_HINT = "rerun with --debug (or SGR_DEBUG=1) for the traceback, and report it"


def classify(exc: BaseException) -> Failure:
    """Map an exception to its exit code, error code and one clean message."""
    text = clip(safe_text(str(exc)), MAX_MESSAGE)
    if isinstance(exc, SgrUsageError):
        return Failure(EXIT_USAGE, exc.code, text)
    if isinstance(exc, TraceError):
        code = (
            "trace-corrupt"
            if isinstance(exc, TraceCorruptError)
            else "trace-locked"
            if isinstance(exc, TraceLockedError)
            else "trace"
        )
        return Failure(EXIT_STORE, code, text)
    if isinstance(exc, ReplayDivergenceError):
        return Failure(EXIT_FAILED, "replay-divergence", text)
    if isinstance(exc, StepError):
        return Failure(EXIT_FAILED, "step-failed", text)
    if isinstance(exc, OSError) and not isinstance(exc, BlockingIOError):
        where = f" {exc.filename}" if exc.filename else ""
        why = exc.strerror or type(exc).__name__
        return Failure(
            EXIT_STORE,
            "io",
            clip(safe_text(f"cannot read or write{where}: {why}"), MAX_MESSAGE),
            "check the path, its permissions and free space (`--home`, $SGR_HOME)",
        )
    if isinstance(exc, SgrError):
        return Failure(EXIT_FAILED, "internal", text, DEBUG_HINT)
    name = type(exc).__name__
    return Failure(EXIT_FAILED, "internal", f"unexpected {name}: {text}", DEBUG_HINT)


def debug_env() -> bool:
    """Whether ``SGR_DEBUG`` asks for tracebacks."""
    return os.environ.get("SGR_DEBUG", "") not in ("", "0")
