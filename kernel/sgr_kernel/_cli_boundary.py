"""The ``sgr`` command's one error boundary and its bounded argument types.

Every exception that leaves a command goes through :func:`report`, which maps the error tree
to a documented exit code and prints one line (to stderr; with ``--json`` also a JSON error
object on stdout). A traceback is printed only when asked for (``--debug`` or
``SGR_DEBUG=1``). The table is in ``docs/errors.md#exit-codes``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any, NoReturn

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
    "finite",
    "report",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PAUSED = 0, 1, 2, 3
EXIT_ABORTED, EXIT_CANCELLED, EXIT_STORE, EXIT_INTERRUPTED = 4, 5, 6, 130

MAX_MESSAGE = 4000
"""Longest error message printed; the rest is cut (it may echo a large input)."""


class ArgumentError(SgrUsageError):
    """A command-line argument is missing, unknown or malformed."""

    code = "usage"


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`ArgumentError` instead of printing and exiting, so that
    usage errors go through the same boundary (and get a JSON object with ``--json``)."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentError(f"{self.prog}: {message} (try `{self.prog} --help`)")


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


_DEBUG_HINT = "rerun with --debug (or SGR_DEBUG=1) for the traceback, and report it"


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
        return Failure(EXIT_FAILED, "internal", text, _DEBUG_HINT)
    name = type(exc).__name__
    return Failure(EXIT_FAILED, "internal", f"unexpected {name}: {text}", _DEBUG_HINT)


def debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("SGR_DEBUG", "") not in ("", "0")


def report(exc: BaseException, *, as_json: bool, debug: bool) -> int:
    """Print ``exc`` as one error line (and a JSON object with ``as_json``); return the code."""
    if isinstance(exc, KeyboardInterrupt):
        print("sgr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    failure = classify(exc)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if as_json:
        print(json.dumps(failure.to_json(exc), indent=2, sort_keys=True))
    line = f"sgr: error: {failure.message}"
    if failure.hint:
        line += f"\n  hint: {failure.hint}"
    print(line, file=sys.stderr)
    return failure.exit_code


# ---------------------------------------------------------------- bounded argument types


def count(lo: int, hi: int) -> Any:
    """An argparse type: a whole number in ``[lo, hi]``."""

    def parse(value: str) -> int:
        text = value.strip()
        if not text.lstrip("+-").isdigit() or len(text) > 20:
            raise argparse.ArgumentTypeError(f"{clip(value, 40)!r} is not a whole number")
        n = int(text)
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"{n} is out of range: use {lo} to {hi}")
        return n

    parse.__name__ = "whole number"
    return parse


def finite(lo: float, hi: float, *, open_low: bool = False) -> Any:
    """An argparse type: a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``open_low``)."""

    def parse(value: str) -> float:
        try:
            x = float(value) if len(value) <= 40 else math.nan
        except ValueError:
            x = math.nan
        if not math.isfinite(x):
            raise argparse.ArgumentTypeError(f"{clip(value, 40)!r} is not a finite number")
        if x < lo or x > hi or (open_low and x == lo):
            low = f"more than {lo:g}" if open_low else f"at least {lo:g}"
            raise argparse.ArgumentTypeError(f"{x:g} is out of range: use {low}, at most {hi:g}")
        return x

    parse.__name__ = "number"
    return parse
