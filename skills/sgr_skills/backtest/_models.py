"""What the planner and the user see of ``backtest_sweep``: its inputs and outputs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sgr_kernel.trace.base import ArtifactRef
from sgr_skills.backtest._params import PARAMS

__all__ = [
    "DEFAULT_GRIDS",
    "MAX_CELLS",
    "BacktestInput",
    "BacktestOutput",
    "FileData",
    "Regime",
    "Row",
    "SyntheticData",
]

MAX_CELLS = 20_000
DEFAULT_GRIDS: dict[str, dict[str, list[float]]] = {
    "ma_crossover": {"fast": [5, 10, 20, 30, 50], "slow": [20, 50, 100, 150, 200]},
    "momentum": {"lookback": [10, 20, 40, 60, 120, 250], "threshold": [0.0, 0.02, 0.05, 0.1]},
    "mean_reversion": {"window": [5, 10, 20, 40, 60], "entry_z": [0.5, 1.0, 1.5, 2.0, 2.5]},
}


class Regime(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(ge=1, le=20_000, description="Trading days the regime lasts.")
    drift: float = Field(ge=-2, le=2, description="Annual drift, e.g. 0.1 for +10 %/year.")
    vol: float = Field(gt=0, le=3, description="Annual volatility, e.g. 0.2.")


class SyntheticData(BaseModel):
    """Seeded geometric Brownian motion with regimes (the same seed gives the same prices)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["synthetic"] = "synthetic"
    assets: int = Field(5, ge=1, le=100, description="How many assets.")
    days: int = Field(1260, ge=30, le=20_000, description="Trading days (252 a year).")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Random seed.")
    regimes: list[Regime] | None = Field(
        None,
        max_length=50,
        description="Regimes repeated in turn; default: bull 252 d, sell-off 126 d, range 189 d.",
    )
    correlation: float = Field(0.3, ge=0, le=0.99, description="Pairwise asset correlation.")


class FileData(BaseModel):
    """The user's OHLCV file: CSV or Parquet with date and close columns (and symbol for
    several assets, long format)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["file"] = "file"
    path: str = Field(min_length=1, max_length=4096, description="Path of a .csv or .parquet file.")
    column: str = Field("close", min_length=1, max_length=100, description="Price column.")


DataSpec = Annotated[SyntheticData | FileData, Field(discriminator="kind")]


class BacktestInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Literal["ma_crossover", "momentum", "mean_reversion"] = Field(
        description=(
            "ma_crossover (params fast, slow: moving-average windows in days; long when fast "
            "> slow), momentum (lookback days, threshold return), mean_reversion (window days, "
            "entry_z: trade against a z-score beyond it)."
        )
    )
    data: DataSpec = Field(
        default_factory=SyntheticData,
        description='Prices: {"kind": "synthetic", "assets", "days", "seed"} or '
        '{"kind": "file", "path": "prices.csv"}.',
    )
    grid: dict[str, list[float]] | None = Field(
        None,
        description="Values to sweep for each of the strategy's two params, e.g. "
        '{"fast": [5, 10, 20], "slow": [50, 100, 200]}; default: a standard grid.',
    )
    cost_bps: float = Field(
        5.0, ge=0, le=1000, description="Cost per unit of position traded, in basis points."
    )
    allow_short: bool = Field(True, description="Take short positions (else long or flat).")
    walk_forward: int = Field(
        0,
        ge=0,
        le=10,
        description="Anchored walk-forward folds: pick the best cell in sample, report it out "
        "of sample (0: off). Use it: an in-sample best flatters.",
    )
    top: int = Field(10, ge=1, le=500, description="Rows of the ranked table to return.")
    chunk_cells: int | None = Field(
        None, ge=1, le=MAX_CELLS, description="Grid cells per remote job (default: sized to work)."
    )
    timeout_s: float = Field(1800, gt=0, le=86_400, description="Deadline per job.")
    resources: dict[str, float] = Field(
        default_factory=dict,
        max_length=8,
        description='Dask worker resources each job needs, e.g. {"BACKTEST": 1}: jobs go only '
        "to workers started with them (sgr worker --resources BACKTEST=1).",
    )

    @model_validator(mode="after")
    def _grid(self) -> BacktestInput:
        names = PARAMS[self.strategy]
        grid = self.grid if self.grid is not None else DEFAULT_GRIDS[self.strategy]
        unknown = set(grid) - set(names)
        if unknown or set(names) - set(grid):
            raise ValueError(
                f"grid for {self.strategy} needs exactly the params {names[0]!r} and "
                f"{names[1]!r}; got {sorted(grid)}"
            )
        clean: dict[str, list[float]] = {}
        for name in names:
            values = sorted(set(grid[name]))
            if not values:
                raise ValueError(f"grid {name!r} is empty; give at least one value")
            if name not in {"threshold", "entry_z"} and any(v != int(v) or v < 1 for v in values):
                raise ValueError(f"grid {name!r} holds windows in days: whole numbers >= 1")
            if name in ("threshold", "entry_z") and any(v < 0 for v in values):
                raise ValueError(f"grid {name!r} values must be >= 0")
            clean[name] = values
        self.grid = clean
        if len(self.cells()) == 0:
            raise ValueError("the grid has no cell with fast < slow; widen it")
        if len(self.cells()) > MAX_CELLS:
            raise ValueError(f"the grid has {len(self.cells())} cells; at most {MAX_CELLS}")
        return self

    def cells(self) -> list[list[float]]:
        """Every parameter pair to score (for ma_crossover only fast < slow)."""
        assert self.grid is not None
        a, b = PARAMS[self.strategy]
        ints = {"fast", "slow", "lookback", "window"}  # windows are whole days
        xs = [int(v) if a in ints else v for v in self.grid[a]]
        ys = [int(v) if b in ints else v for v in self.grid[b]]
        out: list[list[float]] = [[x, y] for x in xs for y in ys]
        if self.strategy == "ma_crossover":
            out = [c for c in out if c[0] < c[1]]
        return out


class Row(BaseModel):
    """One parameter cell's metrics over the whole period."""

    rank: int = Field(description="1 = highest Sharpe.")
    params: dict[str, int | float] = Field(description="The cell's parameter values.")
    sharpe: float | None = Field(description="Annualised Sharpe ratio (no risk-free rate).")
    sortino: float | None = Field(description="Annualised Sortino ratio.")
    max_drawdown: float = Field(description="Largest peak-to-trough loss, a fraction.")
    cagr: float = Field(description="Compound annual growth rate.")
    turnover: float = Field(description="Position traded per year (1 = one full switch).")
    hit_rate: float | None = Field(description="Share of invested days that made money.")
    total_return: float = Field(description="Equity at the end minus 1.")


class BacktestOutput(BaseModel):
    sweep_id: str = Field(description="Content key of the sweep: inputs and data.")
    strategy: str
    cells: int = Field(description="Grid cells scored.")
    jobs: int = Field(description="Remote jobs the grid was split into.")
    data: dict[str, Any] = Field(description="Assets, dates and sha256 of the prices.")
    table: list[Row] = Field(description="The top rows, ranked by Sharpe.")
    best: Row = Field(description="The in-sample best cell.")
    walk_forward: dict[str, Any] | None = Field(
        None,
        description="Per fold the in-sample pick and its out-of-sample metrics, and the "
        "stitched out-of-sample metrics.",
    )
    artifacts: list[ArtifactRef] = Field(
        default_factory=list, description="heatmap.png, equity.png, sweep.csv."
    )
