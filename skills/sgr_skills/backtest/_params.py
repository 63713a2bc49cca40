"""The strategies and their parameters (no numpy here: the skill module imports it)."""

from __future__ import annotations

__all__ = ["PARAMS", "STRATEGIES", "window_of"]

PARAMS: dict[str, tuple[str, str]] = {
    "ma_crossover": ("fast", "slow"),
    "momentum": ("lookback", "threshold"),
    "mean_reversion": ("window", "entry_z"),
}
"""Each strategy's two parameters (the axes of its heat map); the first is a window in days."""
STRATEGIES = tuple(PARAMS)


def window_of(strategy: str, p1: float, p2: float) -> int:
    """The longest look-back (days) a cell needs before it can hold a position."""
    if strategy == "ma_crossover":
        return int(max(p1, p2))
    return int(p1) + (1 if strategy == "momentum" else 0)
