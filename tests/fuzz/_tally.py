"""Counting for the fuzz and injection suites: every case ends as a clean result, a clear
error, a traceback, a hang, or damaged state. Only the first two are allowed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CASE_DEADLINE_S = 30.0
"""A case still running after this long counts as a hang (a generous bound, not a timing)."""


@dataclass
class Tally:
    surface: str
    cases: int = 0
    clean: int = 0
    clear_errors: int = 0
    tracebacks: int = 0
    hangs: int = 0
    state_damaged: int = 0
    examples: list[str] = field(default_factory=list)

    def bad(self, kind: str, what: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {what[:300]}")

    def figure(self) -> str:
        return (
            f"FIGURE fuzz surface={self.surface} cases={self.cases} "
            f"clear_errors={self.clear_errors} clean={self.clean} tracebacks={self.tracebacks} "
            f"hangs={self.hangs} state_damaged={self.state_damaged}"
        )

    def check(self, *, expect_errors: bool = True) -> None:
        print(self.figure())
        TOTAL.cases += self.cases
        TOTAL.clean += self.clean
        TOTAL.clear_errors += self.clear_errors
        TOTAL.tracebacks += self.tracebacks
        TOTAL.hangs += self.hangs
        TOTAL.state_damaged += self.state_damaged
        assert self.tracebacks == self.hangs == self.state_damaged == 0, self.examples
        assert self.cases > 0 and self.cases == self.clean + self.clear_errors, self.examples
        assert self.clear_errors > 0 if expect_errors else self.clean == self.cases


TOTAL = Tally("all")


def bounded(fn: Callable[[], Any], deadline_s: float = CASE_DEADLINE_S) -> tuple[bool, Any]:
    """Run ``fn`` in a thread; (finished, result or the exception it raised)."""
    box: list[Any] = []

    def target() -> None:
        try:
            box.append(fn())
        except BaseException as e:
            box.append(e)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(deadline_s)
    if t.is_alive():
        return False, None
    return True, box[0]


def one_line_error(text: str) -> bool:
    """An error message a person can act on: no traceback, not empty, not a wall of text."""
    return bool(text.strip()) and "Traceback (most recent call last)" not in text
