"""Bounded argparse types shared by the ``sgr`` command and the notebook's ``%sgr`` line.

Each refuses what is out of range with one line that says what to give instead, so the CLI
and the magics accept and refuse the same values with the same words.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from sgr_kernel.safety import clip

__all__ = ["count", "finite", "short_text"]


def count(lo: int, hi: int) -> Callable[[str], int]:
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


def finite(lo: float, hi: float, *, open_low: bool = False) -> Callable[[str], float]:
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


def short_text(value: str) -> str:
    """An argparse type: at most 200 characters of plain text (no NUL)."""
    if len(value) > 200 or "\x00" in value:
        raise argparse.ArgumentTypeError("use at most 200 characters of plain text")
    return value
