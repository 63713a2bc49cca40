"""Live model tokens for ``sgr run`` / ``resume`` / ``fork``: planning and answers as they come.

On a terminal (stderr is a TTY) the tokens a run's model streams are written to stderr as they
arrive, under a short header per step (``[planning]``, ``[s1]``), so a long planning phase is
never a frozen screen. Anywhere else (a pipe, a file, ``--json``, ``SGR_STREAM=0``) nothing
is written: stdout keeps only the command's result, whatever the terminal. The CLI calls
:func:`stream_tokens` with one line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from sgr_kernel.safety import safe_text
from sgr_kernel.trace.base import Record, RecordType

__all__ = ["TokenPrinter", "stream_tokens", "wants_stream"]

_PLAN_STEP = "__plan__"
_ENDED = {"COMMITTED", "FAILED", "RETRY_WAIT", "CANCELLED", "SKIPPED"}


def wants_stream(stream: TextIO, *, json_mode: bool = False) -> bool:
    """Whether tokens should be shown on ``stream``: a TTY, not ``--json``, not turned off."""
    if json_mode or os.environ.get("SGR_STREAM", "").strip() in ("0", "false", "no"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class TokenPrinter:
    """A record listener that writes streamed tokens, one block per step attempt."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._current: str | None = None
        self.written = 0

    def __call__(self, rec: Record) -> None:
        if rec.type is RecordType.EVENT and rec.data.get("kind") == "token":
            text = safe_text(str(rec.data.get("text") or ""))
            if not text:
                return
            step = rec.step or _PLAN_STEP
            if step != self._current:
                self._end_block()
                label = "planning" if step == _PLAN_STEP else step
                self.out.write(f"[{label}] ")
                self._current = step
            self.out.write(text)
            self.written += len(text)
            self.out.flush()
        elif rec.type is RecordType.STEP and rec.step == self._current:
            if rec.data.get("status") in _ENDED:
                self._end_block()
        elif rec.type is RecordType.RUN_STATUS:
            self._end_block()

    def _end_block(self) -> None:
        if self._current is not None:
            self.out.write("\n")
            self.out.flush()
            self._current = None


def stream_tokens(
    handle: Any, *, json_mode: bool = False, out: TextIO | None = None
) -> Callable[[], None]:
    """Show ``handle``'s streamed tokens on ``out`` (stderr) when :func:`wants_stream`;
    returns the unsubscribe (a no-op when nothing was subscribed)."""
    out = sys.stderr if out is None else out
    if not wants_stream(out, json_mode=json_mode):
        return lambda: None
    printer = TokenPrinter(out)
    unsubscribe: Callable[[], None] = handle.subscribe(printer)
    return unsubscribe
