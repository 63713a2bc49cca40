"""The ``sgr`` command's one error boundary, its writers, and what a run target is.

Every exception that leaves a command goes through :func:`report`, which maps the error tree
to a documented exit code and prints one line (to stderr; with ``--json`` also a JSON error
object on stdout). A traceback is printed only when asked for (``--debug`` or
``SGR_DEBUG=1``). The table is in ``docs/errors.md#exit-codes``.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from sgr_kernel._cli_output import emit, err, out
from sgr_kernel.argtypes import count, finite, short_text
from sgr_kernel.boundary import (
    EXIT_ABORTED,
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PAUSED,
    EXIT_STORE,
    EXIT_USAGE,
    Failure,
    classify,
    debug_env,
)
from sgr_kernel.errors import SgrUsageError
from sgr_kernel.safety import clip

__all__ = [
    "EXIT_ABORTED",
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PAUSED",
    "EXIT_STORE",
    "EXIT_USAGE",
    "ArgumentError",
    "Failure",
    "Parser",
    "classify",
    "count",
    "debug_requested",
    "emit",
    "err",
    "finite",
    "out",
    "plan_or_task",
    "report",
    "short_text",
]


class ArgumentError(SgrUsageError):
    """A command-line argument is missing, unknown or malformed."""

    code = "usage"


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`ArgumentError` instead of printing and exiting, so that
    usage errors go through the same boundary (and get a JSON object with ``--json``)."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentError(f"{self.prog}: {message} (try `{self.prog} --help`)")


def debug_requested(argv: list[str]) -> bool:
    """Whether tracebacks were asked for (``--debug`` anywhere, or ``SGR_DEBUG=1``)."""
    return "--debug" in argv or debug_env()


def report(exc: BaseException, *, as_json: bool, debug: bool) -> int:
    """Print ``exc`` as one error line (and a JSON object with ``as_json``); return the code."""
    if isinstance(exc, KeyboardInterrupt):
        err("sgr: interrupted")
        return EXIT_INTERRUPTED
    failure = classify(exc)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if as_json:
        out(json.dumps(failure.to_json(exc), indent=2, sort_keys=True))
    line = f"sgr: error: {failure.message}"
    if failure.hint:
        line += f"\n  hint: {failure.hint}"
    err(line)
    return failure.exit_code


_PLAN_SUFFIXES = (".yaml", ".yml", ".json")


def plan_or_task(text: str) -> Path | str:
    """A plan file to read, or the task text. What is neither is refused, not sent to a model:
    an empty string, a directory or device, a path-like word that names no file."""
    if not text.strip():
        raise SgrUsageError("nothing to run: give a plan file or the task text in quotes")
    path = Path(text)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # NUL bytes, names too long for the file system
        exists = False
    if exists:
        if path.is_dir():
            raise SgrUsageError(f"{clip(text, 200)} is a directory; give a plan file inside it")
        if not path.is_file():
            raise SgrUsageError(f"{clip(text, 200)} is not a regular file; give a plan file")
        return path
    path_like = not any(c.isspace() for c in text) and (
        "/" in text or text.startswith(("~", ".")) or path.suffix.lower() in _PLAN_SUFFIXES
    )
    if path_like:
        raise SgrUsageError(
            f"plan file {clip(text, 200)} does not exist (a task is text with spaces, in quotes)"
        )
    return text
