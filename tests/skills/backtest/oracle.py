"""A plain-Python backtest, written from the cost convention in docs/skills.md with loops and
no numpy: the oracle the vectorised engine is checked against."""

from __future__ import annotations

import math
from typing import Any

TIE = 1e-10


def _sign(diff: float, scale: float, allow_short: bool) -> float:
    if diff > TIE * abs(scale):
        return 1.0
    if diff < -TIE * abs(scale) and allow_short:
        return -1.0
    return 0.0


def position(
    strategy: str, closes: list[float], t: int, p1: float, p2: float, allow_short: bool
) -> float:
    """The position held after the close of day ``t`` (prices up to ``t`` only)."""
    if strategy == "ma_crossover":
        fast, slow = int(p1), int(p2)
        if t + 1 < max(fast, slow):
            return 0.0
        f = sum(closes[t - fast + 1 : t + 1]) / fast
        s = sum(closes[t - slow + 1 : t + 1]) / slow
        return _sign(f - s, s, allow_short)
    if strategy == "momentum":
        lookback = int(p1)
        if t < lookback:
            return 0.0
        m = closes[t] / closes[t - lookback] - 1.0
        if m > p2:
            return 1.0
        return -1.0 if (m < -p2 and allow_short) else 0.0
    if strategy == "mean_reversion":
        w = int(p1)
        if t + 1 < w:
            return 0.0
        win = closes[t - w + 1 : t + 1]
        mean = sum(win) / w
        sd = math.sqrt(sum((x - mean) ** 2 for x in win) / w)
        if not sd > TIE * abs(mean):
            return 0.0
        dev, band, tol = closes[t] - mean, p2 * sd, TIE * abs(mean)
        if dev < -band - tol:
            return 1.0
        return -1.0 if (dev > band + tol and allow_short) else 0.0
    raise ValueError(strategy)


def backtest(
    strategy: str,
    prices: list[list[float]],
    p1: float,
    p2: float,
    *,
    cost_bps: float,
    allow_short: bool = True,
) -> dict[str, Any]:
    """``prices[asset][day]``; the metrics the engine reports, by their definitions."""
    c = cost_bps / 10_000
    days = len(prices[0])
    n_assets = len(prices)
    port = [0.0] * (days - 1)
    traded_total = 0.0
    invested = wins = 0
    for closes in prices:
        pos = [position(strategy, closes, t, p1, p2, allow_short) for t in range(days)]
        for t in range(1, days):
            before = pos[t - 2] if t >= 2 else 0.0
            trade = abs(pos[t - 1] - before)
            net = pos[t - 1] * (closes[t] / closes[t - 1] - 1.0) - c * trade
            port[t - 1] += net / n_assets
            traded_total += trade / n_assets
            if pos[t - 1] != 0:
                invested += 1
                wins += net > 0
    n = len(port)
    mean = sum(port) / n
    var = sum((x - mean) ** 2 for x in port) / (n - 1)
    sharpe = mean / math.sqrt(var) * math.sqrt(252) if var > 0 else None
    down = math.sqrt(sum(min(x, 0.0) ** 2 for x in port) / n)
    sortino = mean / down * math.sqrt(252) if down > 0 else None
    equity, peak, mdd = 1.0, 1.0, 0.0
    for x in port:
        equity *= 1.0 + x
        peak = max(peak, equity)
        mdd = max(mdd, 1.0 - equity / peak)
    return {
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": mdd,
        "cagr": equity ** (252 / n) - 1.0 if equity > 0 else -1.0,
        "turnover": traded_total * 252 / n,
        "hit_rate": wins / invested if invested else None,
        "total_return": equity - 1.0,
        "days": n,
    }
