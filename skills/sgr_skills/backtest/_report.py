"""The sweep's pictures: a heat map of Sharpe ratios over the grid and the equity curves.

Drawn with matplotlib's object API on the Agg canvas (no pyplot state, safe in worker
threads); PNGs carry no timestamp or version, so the same sweep gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["draw_equity", "draw_heatmap", "equity_curves"]

_PNG_META = {"Software": None}


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def draw_heatmap(
    path: Path, strategy: str, names: list[str], grid: list[list[Any]], best: list[float]
) -> None:
    """``grid`` rows are ``[p1, p2, sharpe or None]``; cells not in the grid stay blank."""
    xs = sorted({float(r[0]) for r in grid})
    ys = sorted({float(r[1]) for r in grid})
    z = np.full((len(ys), len(xs)), np.nan)
    for p1, p2, s in grid:
        if s is not None:
            z[ys.index(float(p2)), xs.index(float(p1))] = s
    fig = _figure(7.5, 5.0)
    ax = fig.add_subplot()
    finite = z[np.isfinite(z)]
    lim = float(np.max(np.abs(finite))) if finite.size else 1.0
    im = ax.imshow(z, origin="lower", cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs])
    ax.set_yticks(range(len(ys)), [f"{y:g}" for y in ys])
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    if len(xs) * len(ys) <= 120:
        for (i, j), v in np.ndenumerate(z):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
    bx, by = xs.index(float(best[0])), ys.index(float(best[1]))
    ax.add_patch(_box(bx, by))
    ax.set_title(
        f"{strategy.replace('_', ' ')}: annualised Sharpe "
        "(box: best in sample; blank: never traded)"
    )
    fig.colorbar(im, ax=ax, label="Sharpe")
    fig.savefig(path, format="png", metadata=_PNG_META)


def _box(x: int, y: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2)


def equity_curves(
    strategy: str,
    prices: Any,
    best: list[float],
    picks: list[list[float]] | None,
    *,
    cost_bps: float,
    allow_short: bool,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Equity of the best cell, of buy-and-hold, and with ``picks`` the stitched walk-forward
    out-of-sample curve (``{label: (day index, equity)}``) and its metrics."""
    from sgr_skills.backtest._engine import metrics, net_returns, positions
    from sgr_skills.backtest._jobs import fold_bounds

    close = prices.close
    n = len(close) - 1
    curves: dict[str, Any] = {}
    hold = close[1:] / close[:-1] - 1.0
    curves["buy and hold (equal weight)"] = (np.arange(n + 1), _equity(hold.mean(axis=1)))
    pos = positions(strategy, close, best[0], best[1], allow_short=allow_short)
    net, _, _ = net_returns(close, pos, cost_bps)
    label = f"best in sample {best[0]:g}/{best[1]:g}"
    curves[label] = (np.arange(n + 1), _equity(net.mean(axis=1)))
    if not picks:
        return curves, None
    parts, traded_parts, held_parts = [], [], []
    bounds = fold_bounds(n, len(picks))
    for (p1, p2), (_, (c, d)) in zip(picks, bounds, strict=True):
        pos = positions(strategy, close, p1, p2, allow_short=allow_short)
        net, traded, _ = net_returns(close, pos, cost_bps)
        parts.append(net[c:d])
        traded_parts.append(traded[c:d])
        held_parts.append(pos[:-1][c:d])
    oos_net = np.vstack(parts)
    start = bounds[0][1][0]
    curves["walk-forward out of sample"] = (
        np.arange(start, start + len(oos_net) + 1),
        _equity(oos_net.mean(axis=1)),
    )
    return curves, metrics(oos_net, np.vstack(traded_parts), np.vstack(held_parts))


def _equity(port: Any) -> Any:
    return np.concatenate([[1.0], np.cumprod(1.0 + port)])


def draw_equity(path: Path, prices: Any, curves: dict[str, Any]) -> None:
    fig = _figure(8.0, 4.2)
    ax = fig.add_subplot()
    for label, (x, y) in curves.items():
        ax.plot(x, y, label=label, linewidth=1.4 if "best" in label else 1.0)
    ticks = np.linspace(0, len(prices.dates) - 1, 6).astype(int)
    ax.set_xticks(ticks, [prices.dates[i] for i in ticks], fontsize=8)
    ax.set_ylabel("equity (start = 1)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("equity after costs")
    fig.savefig(path, format="png", metadata=_PNG_META)
