"""Price data for a sweep: a seeded synthetic generator, or the user's CSV/Parquet OHLCV file.

The skill loads the data in the kernel first (so a bad file is refused before any job is
submitted) and sends the job only the spec and the file's sha256; each job loads it again
and refuses a file that changed in between.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sgr_skills.backtest._engine import DAYS_PER_YEAR, Array

__all__ = ["DEFAULT_REGIMES", "DataError", "Prices", "file_sha256", "load", "synthetic"]

DEFAULT_REGIMES: tuple[tuple[int, float, float], ...] = (
    (252, 0.12, 0.15),  # (days, annual drift, annual volatility): a calm bull market
    (126, -0.25, 0.35),  # a volatile sell-off
    (189, 0.02, 0.10),  # a quiet range
)


class DataError(ValueError):
    """The data cannot be backtested; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Prices:
    """Closes by day (rows) and asset (columns)."""

    dates: list[str]
    symbols: list[str]
    close: Array
    sha256: str


def synthetic(
    *,
    assets: int,
    days: int,
    seed: int,
    regimes: list[tuple[int, float, float]] | None = None,
    correlation: float = 0.3,
    start_price: float = 100.0,
) -> Prices:
    """Geometric Brownian motion with regimes that repeat in turn, one common factor.

    Each regime is (days, annual drift, annual volatility); daily log returns are normal with
    mean ``(mu - sigma**2 / 2) / 252`` and deviation ``sigma / sqrt(252)``; assets share a
    market factor with pairwise correlation ``correlation``. Same arguments, same prices."""
    rng = np.random.Generator(np.random.PCG64(seed))
    plan = list(regimes or DEFAULT_REGIMES)
    mu = np.empty(days - 1)
    sigma = np.empty(days - 1)
    i = k = 0
    while i < days - 1:
        n, drift, vol = plan[k % len(plan)]
        j = min(days - 1, i + max(1, int(n)))
        mu[i:j], sigma[i:j] = drift, vol
        i, k = j, k + 1
    common = rng.standard_normal((days - 1, 1))
    own = rng.standard_normal((days - 1, assets))
    shocks = np.sqrt(correlation) * common + np.sqrt(1 - correlation) * own
    dt = 1.0 / DAYS_PER_YEAR
    logret = ((mu - sigma**2 / 2) * dt)[:, None] + (sigma * np.sqrt(dt))[:, None] * shocks
    close = start_price * np.exp(np.vstack([np.zeros((1, assets)), np.cumsum(logret, axis=0)]))
    dates = np.busday_offset("2015-01-02", np.arange(days), roll="forward")
    sha = hashlib.sha256(close.tobytes()).hexdigest()
    return Prices([str(d) for d in dates], [f"SYN{a}" for a in range(assets)], close, sha)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_table(path: Path) -> Any:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except ImportError as e:
            raise DataError(
                f"reading {path.name} needs pyarrow: pip install 'sgr-jupyter[heavy]' ({e})"
            ) from None
    raise DataError(f"{path.name}: give a .csv or .parquet file of OHLCV rows")


def load(path: str, *, column: str = "close", expect_sha256: str | None = None) -> Prices:
    """Closes from an OHLCV file: a ``date`` column, a ``close`` column (or ``column``), and,
    for several assets in one file, a ``symbol`` (or ``ticker``) column (long format).
    Column names are matched case-insensitively; assets are aligned on their common dates."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"no data file at {path!r}; give the path of a CSV or Parquet file")
    sha = file_sha256(p)
    if expect_sha256 is not None and sha != expect_sha256:
        raise DataError(
            f"{p.name} changed since the sweep was planned (sha256 {sha[:12]} is not "
            f"{expect_sha256[:12]}); run the step again"
        )
    try:
        df = _read_table(p)
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"cannot read {p.name}: {type(e).__name__}: {e}") from None
    cols = {str(c).lower(): c for c in df.columns}
    date_col = cols.get("date") or cols.get("datetime") or cols.get("timestamp")
    close_col = cols.get(column.lower())
    sym_col = cols.get("symbol") or cols.get("ticker")
    if date_col is None or close_col is None:
        raise DataError(
            f"{p.name} needs a 'date' and a {column!r} column; it has "
            f"{', '.join(map(str, df.columns)) or 'none'}"
        )
    return _to_prices(
        df, date_col=date_col, close_col=close_col, sym_col=sym_col, name=p.name, sha=sha
    )


def _to_prices(
    df: Any, *, date_col: Any, close_col: Any, sym_col: Any, name: str, sha: str
) -> Prices:
    import pandas as pd

    dates = pd.to_datetime(df[date_col], errors="coerce")
    if dates.isna().any():
        row = int(dates.isna().to_numpy().argmax())
        raise DataError(
            f"{name}: row {row + 2} has a date that cannot be read: {df[date_col].iloc[row]!r}"
        )
    values = pd.to_numeric(df[close_col], errors="coerce")
    bad = values.isna() | ~(values > 0)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise DataError(
            f"{name}: {int(bad.sum())} row(s) have a missing or non-positive {close_col!r} "
            f"(first: row {row + 2}, {df[close_col].iloc[row]!r}); clean them first"
        )
    symbols = df[sym_col].astype(str) if sym_col is not None else pd.Series("ASSET", index=df.index)
    frame = pd.DataFrame({"date": dates, "symbol": symbols, "close": values.astype(float)})
    dup = frame.duplicated(["date", "symbol"])
    if dup.any():
        row = int(dup.to_numpy().argmax())
        raise DataError(f"{name}: row {row + 2} repeats a date for {frame['symbol'].iloc[row]!r}")
    wide = frame.pivot(index="date", columns="symbol", values="close").sort_index().dropna()
    if len(wide) < 3:
        raise DataError(f"{name}: fewer than 3 dates that every asset has; nothing to backtest")
    close = np.ascontiguousarray(wide.to_numpy(dtype=float))
    return Prices(
        [d.strftime("%Y-%m-%d") for d in wide.index], [str(s) for s in wide.columns], close, sha
    )
