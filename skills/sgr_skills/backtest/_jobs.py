"""The worker side of a sweep: ``sgr.backtest.chunk`` scores a slice of the grid,
``sgr.backtest.report`` draws the heat map and the equity curves.

Both are plain functions in an importable module (Dask workers unpickle them by reference).
They report progress, stop between cells when cancelled, and load the prices themselves
from the data spec, so a job carries a few hundred bytes, not the price history.
"""

from __future__ import annotations

import time
from typing import Any

from sgr_kernel.dispatch.base import JobCancelled, current_job, job

__all__ = ["CHUNK_JOB", "REPORT_JOB", "fold_bounds", "load_prices", "score_cells"]

CHUNK_JOB = "sgr.backtest.chunk"
REPORT_JOB = "sgr.backtest.report"
_CACHE: dict[str, Any] = {}


def load_prices(data: dict[str, Any]) -> Any:
    """The :class:`~sgr_skills.backtest._data.Prices` a data spec names. Cached per process
    when the spec pins its content (synthetic arguments, or a file with its sha256)."""
    from sgr_skills.backtest._data import load, synthetic

    key = repr(sorted(data.items()))
    if data["kind"] == "file" and not data.get("sha256"):
        return load(data["path"], column=data["column"])  # the file may change: read it now
    if key not in _CACHE:
        if data["kind"] == "synthetic":
            regimes = [tuple(r) for r in data["regimes"]] if data.get("regimes") else None
            prices = synthetic(
                assets=data["assets"],
                days=data["days"],
                seed=data["seed"],
                regimes=regimes,
                correlation=data.get("correlation", 0.3),
            )
        else:
            prices = load(data["path"], column=data["column"], expect_sha256=data.get("sha256"))
        if len(_CACHE) > 4:
            _CACHE.clear()
        _CACHE[key] = prices
    return _CACHE[key]


def fold_bounds(days: int, folds: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Anchored walk-forward over ``days`` return days: fold ``i`` trains on every day before
    its test window; the series is cut in ``folds + 1`` equal parts, the first only trains."""
    cuts = [round(days * k / (folds + 1)) for k in range(folds + 2)]
    return [((0, cuts[i]), (cuts[i], cuts[i + 1])) for i in range(1, folds + 1)]


def score_cells(
    strategy: str,
    close: Any,
    cells: list[list[float]],
    *,
    cost_bps: float,
    allow_short: bool,
    folds: int = 0,
    on_cell: Any = None,
) -> list[dict[str, Any]]:
    """Metrics of every cell over the whole period and, with ``folds``, per fold."""
    from sgr_skills.backtest._engine import metrics, net_returns, positions

    rows = []
    bounds = fold_bounds(len(close) - 1, folds) if folds else []
    for i, (p1, p2) in enumerate(cells):
        pos = positions(strategy, close, p1, p2, allow_short=allow_short)
        net, traded, _ = net_returns(close, pos, cost_bps)
        held = pos[:-1]
        row: dict[str, Any] = {"params": [p1, p2], "metrics": metrics(net, traded, held)}
        if folds:
            row["folds"] = [
                {
                    "train_sharpe": metrics(net[a:b], traded[a:b], held[a:b])["sharpe"],
                    "test": metrics(net[c:d], traded[c:d], held[c:d]),
                }
                for (a, b), (c, d) in bounds
            ]
        rows.append(row)
        if on_cell is not None:
            on_cell(i + 1)
    return rows


@job(CHUNK_JOB)
def chunk(
    *,
    strategy: str,
    cells: list[list[float]],
    data: dict[str, Any],
    cost_bps: float,
    allow_short: bool,
    folds: int = 0,
    chunk: int = 0,
) -> dict[str, Any]:
    """Score one slice of the grid; progress at least every 0.5 s, cancel between cells."""
    from sgr_skills._extras import require_on_worker

    require_on_worker("numpy", *(["pandas"] if data["kind"] == "file" else []))
    ctx = current_job()
    prices = load_prices(data)
    last = [0.0]

    def on_cell(done: int) -> None:
        if ctx.cancelled():
            raise JobCancelled(ctx.key)
        now = time.monotonic()
        if now - last[0] >= 0.5 or done == len(cells):
            last[0] = now
            ctx.progress(done / len(cells), f"chunk {chunk}: {done}/{len(cells)} cells", cells=done)

    rows = score_cells(
        strategy,
        prices.close,
        cells,
        cost_bps=cost_bps,
        allow_short=allow_short,
        folds=folds,
        on_cell=on_cell,
    )
    return {"chunk": chunk, "rows": rows}


@job(REPORT_JOB)
def report(
    *,
    strategy: str,
    data: dict[str, Any],
    cost_bps: float,
    allow_short: bool,
    names: list[str],
    grid: list[list[Any]],
    best: list[float],
    picks: list[list[float]] | None = None,
) -> dict[str, Any]:
    """Heat map of the grid's Sharpe ratios and the equity curves, as PNG artifacts; with
    walk-forward ``picks`` (one cell per fold), the stitched out-of-sample metrics."""
    from sgr_skills._extras import require_on_worker

    require_on_worker("numpy", "matplotlib")
    from sgr_skills.backtest._report import draw_equity, draw_heatmap, equity_curves

    ctx = current_job()
    ctx.progress(0.0, "drawing the heat map")
    prices = load_prices(data)
    out_dir = ctx.artifact_dir
    draw_heatmap(out_dir / "heatmap.png", strategy, names, grid, best)
    if ctx.cancelled():
        raise JobCancelled(ctx.key)
    ctx.progress(0.5, "drawing the equity curves")
    curves, oos = equity_curves(
        strategy, prices, best, picks, cost_bps=cost_bps, allow_short=allow_short
    )
    draw_equity(out_dir / "equity.png", prices, curves)
    ctx.progress(1.0, "report drawn")
    return {"oos": oos}
