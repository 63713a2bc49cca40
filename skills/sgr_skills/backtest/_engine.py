"""The vectorised backtest engine: strategy positions, net returns after costs, metrics.

Conventions (docs/skills.md, "Backtest sweep"), for close prices ``P`` of shape (days, assets):

- the signal at close ``t`` uses prices up to ``t`` only and sets the position ``pos[t]`` in
  {-1, 0, +1} (0 where an indicator is not yet defined);
- that position earns the next day's return: ``gross[t] = pos[t-1] * (P[t] / P[t-1] - 1)``;
- a trade at close ``t-1`` costs ``cost_bps / 10_000`` per unit of position changed, booked
  on day ``t``: ``net[t] = gross[t] - c * |pos[t-1] - pos[t-2]|`` with ``pos[-1] = 0`` (the
  first entry pays; the position left open at the end is not closed);
- the portfolio holds the assets in equal sleeves, rebalanced daily at no charge:
  ``port[t] = mean over assets of net[t]``.

Metrics (252 days a year) are in :func:`metrics`. Pure numpy; a plain-Python oracle in the
tests checks it on random and hand-computed cases.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sgr_skills.backtest._params import PARAMS, STRATEGIES, window_of

__all__ = [
    "DAYS_PER_YEAR",
    "PARAMS",
    "STRATEGIES",
    "metrics",
    "net_returns",
    "positions",
    "window_of",
]

Array = NDArray[np.float64]
DAYS_PER_YEAR = 252
TIE = 1e-10
"""Relative size below which two indicator values count as equal (no position)."""


def _sma(prices: Array, window: int) -> Array:
    """Simple moving average over ``window`` closes; NaN before the window is full."""
    out = np.full_like(prices, np.nan)
    if window > len(prices):
        return out
    base = prices[0]  # centred cumulative sums keep the rounding error small
    c = np.cumsum(np.vstack([np.zeros_like(base), prices - base]), axis=0)
    out[window - 1 :] = (c[window:] - c[:-window]) / window + base
    return out


def _rolling_std(prices: Array, window: int) -> Array:
    """Population standard deviation over ``window`` closes; NaN before the window is full."""
    out = np.full_like(prices, np.nan)
    if window > len(prices):
        return out
    view = np.lib.stride_tricks.sliding_window_view(prices, window, axis=0)
    out[window - 1 :] = view.std(axis=-1)
    return out


def _side(diff: Array, scale: Array, allow_short: bool) -> Array:
    """+1 where ``diff`` is clearly positive, -1 (or 0 long-only) where clearly negative."""
    tol = TIE * np.abs(scale)
    pos = np.where(diff > tol, 1.0, np.where(diff < -tol, -1.0, 0.0))
    pos[~np.isfinite(diff)] = 0.0
    return pos if allow_short else np.maximum(pos, 0.0)


def positions(
    strategy: str, prices: Array, p1: float, p2: float, *, allow_short: bool = True
) -> Array:
    """Positions in {-1, 0, +1} per day and asset for one parameter cell."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if strategy == "ma_crossover":
            fast, slow = _sma(prices, int(p1)), _sma(prices, int(p2))
            return _side(fast - slow, slow, allow_short)
        if strategy == "momentum":
            lookback, threshold = int(p1), float(p2)
            mom = np.full_like(prices, np.nan)
            mom[lookback:] = prices[lookback:] / prices[:-lookback] - 1.0
            up = np.where(mom > threshold, 1.0, 0.0)
            down = np.where(mom < -threshold, -1.0, 0.0) if allow_short else 0.0
            return np.where(np.isfinite(mom), up + down, 0.0)
        if strategy == "mean_reversion":
            window, entry = int(p1), float(p2)
            mean, std = _sma(prices, window), _rolling_std(prices, window)
            defined = np.isfinite(std) & (std > TIE * np.abs(mean))
            # Beyond the band by more than rounding: ties at the band edge take no position.
            dev, band, tol = prices - mean, entry * std, TIE * np.abs(mean)
            long = np.where(defined & (dev < -band - tol), 1.0, 0.0)
            short = np.where(defined & (dev > band + tol), -1.0, 0.0) if allow_short else 0.0
            return long + short
    raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def net_returns(prices: Array, pos: Array, cost_bps: float) -> tuple[Array, Array, Array]:
    """Per asset, days 1..T-1: (net returns, traded amount, gross returns) (module docstring)."""
    rets = prices[1:] / prices[:-1] - 1.0
    held = pos[:-1]
    before = np.vstack([np.zeros_like(pos[:1]), pos[:-2]]) if len(pos) > 1 else held
    traded = np.abs(held - before)
    gross = held * rets
    return gross - (cost_bps / 10_000.0) * traded, traded, gross


def _opt(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def metrics(net: Array, traded: Array, held: Array) -> dict[str, Any]:
    """Metrics of a sleeve portfolio over some days (rows of ``net``/``traded``/``held``).

    ``held`` is the position that earned each day. Sharpe and Sortino are annualised, from
    daily returns (no risk-free rate); undefined values (no variance, no downside, no day
    invested) are ``None``."""
    port = net.mean(axis=1)
    n = len(port)
    out: dict[str, Any] = {
        "sharpe": None,
        "sortino": None,
        "max_drawdown": 0.0,
        "cagr": 0.0,
        "turnover": 0.0,
        "hit_rate": None,
        "total_return": 0.0,
        "days": n,
    }
    if n == 0:
        return out
    mean = float(port.mean())
    if n > 1:
        sd = float(port.std(ddof=1))
        out["sharpe"] = _opt(mean / sd * math.sqrt(DAYS_PER_YEAR)) if sd > 0 else None
    down = float(np.sqrt(np.mean(np.minimum(port, 0.0) ** 2)))
    out["sortino"] = _opt(mean / down * math.sqrt(DAYS_PER_YEAR)) if down > 0 else None
    equity = np.cumprod(1.0 + port)
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    out["max_drawdown"] = float(np.max(1.0 - equity / peak))
    final = float(equity[-1])
    out["total_return"] = final - 1.0
    out["cagr"] = final ** (DAYS_PER_YEAR / n) - 1.0 if final > 0 else -1.0
    out["turnover"] = float(traded.mean(axis=1).sum()) * DAYS_PER_YEAR / n
    invested = held != 0
    count = int(invested.sum())
    out["hit_rate"] = float((net[invested] > 0).sum()) / count if count else None
    return out
