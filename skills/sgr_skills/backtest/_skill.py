"""``backtest_sweep``: a strategy's parameter grid, scored in chunked remote jobs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from sgr_kernel.errors import SkillFailed, StepContractError
from sgr_kernel.skills.base import CAP_REMOTE, Skill, SkillContext
from sgr_kernel.trace.base import ArtifactRef
from sgr_skills._extras import HEAVY, missing
from sgr_skills.backtest._jobs import CHUNK_JOB, REPORT_JOB, fold_bounds
from sgr_skills.backtest._models import BacktestInput, BacktestOutput, Row

__all__ = ["BacktestSweepSkill", "chunk_cells", "rank"]

WORK_PER_JOB = 3_000_000
"""Price points (days x assets x cells) one job scores: about half a second of numpy."""
MAX_JOBS = 64


def require_extra(*modules: str) -> None:
    """Refuse, before any job is sent, when the kernel lacks what it needs of the extra."""
    lacking = missing(*modules)
    if lacking:
        raise StepContractError(f"this skill needs {', '.join(lacking)}: {HEAVY}")


def chunk_cells(n_cells: int, points: int, wanted: int | None = None) -> int:
    """Cells per job: about :data:`WORK_PER_JOB` points each, at most :data:`MAX_JOBS` jobs."""
    if wanted:
        return wanted
    return max(1, math.ceil(WORK_PER_JOB / max(1, points)), math.ceil(n_cells / MAX_JOBS))


def _key(value: Any) -> tuple[int, float]:
    return (0, -value) if value is not None else (1, 0.0)


def rank(rows: list[dict[str, Any]], names: tuple[str, str]) -> list[Row]:
    """Rows ordered by Sharpe (highest first, undefined last, then by params)."""
    ordered = sorted(rows, key=lambda r: (_key(r["metrics"]["sharpe"]), r["params"]))
    out = []
    for i, r in enumerate(ordered, 1):
        m = {k: v for k, v in r["metrics"].items() if k != "days"}
        out.append(Row(rank=i, params=dict(zip(names, r["params"], strict=True)), **m))
    return out


class BacktestSweepSkill(Skill):
    name = "backtest_sweep"
    description = (
        "Backtest a trading strategy (ma_crossover, momentum or mean_reversion) over a grid "
        "of its two parameters on OHLCV prices (a CSV/Parquet file or seeded synthetic "
        "data), with transaction costs, on remote workers. Outputs: a table ranked by Sharpe "
        "(Sortino, max drawdown, CAGR, turnover, hit rate), the best cell, walk-forward "
        "out-of-sample results when walk_forward > 0, and artifacts: a heat map, the equity "
        "curves and the full table as CSV."
    )
    Input = BacktestInput
    Output = BacktestOutput
    cues = (r"\bback-?test", r"\bsweep\b.{0,80}\b(strateg|lookback|window|grid|sharpe|crossover)")
    capabilities = frozenset({CAP_REMOTE})
    idempotent = True  # jobs are pure functions of their params; a re-run is harmless

    async def run(self, ctx: SkillContext, inputs: BacktestInput) -> BacktestOutput:
        from sgr_skills.backtest._data import DataError
        from sgr_skills.backtest._jobs import load_prices
        from sgr_skills.backtest._params import PARAMS, window_of

        require_extra("numpy", "pandas")  # the kernel loads the data first
        data = inputs.data.model_dump(mode="json")
        if data["kind"] == "file":  # workers resolve paths from their own directory: send it whole
            data["path"] = str(Path(data["path"]).expanduser().absolute())
        try:
            prices = await asyncio.to_thread(load_prices, data)
        except DataError as e:
            raise StepContractError(str(e)) from None
        if data["kind"] == "file":
            data["sha256"] = prices.sha256  # a job refuses the file if it changed since
        cells = inputs.cells()
        names = PARAMS[inputs.strategy]
        days, assets = prices.close.shape
        longest = max(window_of(inputs.strategy, c[0], c[1]) for c in cells)
        if longest + 2 > days:
            raise StepContractError(
                f"the longest window ({longest} days) needs more than {longest + 1} days of "
                f"prices; the data has {days}. Shorten the grid or give more data"
            )
        if inputs.walk_forward and days // (inputs.walk_forward + 1) < max(20, longest):
            raise StepContractError(
                f"{inputs.walk_forward} walk-forward folds cut {days} days into windows "
                f"shorter than the longest look-back ({longest} days); use fewer folds"
            )
        sweep_id = self._sweep_id(inputs, prices.sha256)
        size = chunk_cells(len(cells), days * assets, inputs.chunk_cells)
        chunks = [cells[i : i + size] for i in range(0, len(cells), size)]
        common = {
            "strategy": inputs.strategy,
            "data": data,
            "cost_bps": inputs.cost_bps,
            "allow_short": inputs.allow_short,
        }
        ctx.emit("progress", {"message": f"{len(cells)} cells in {len(chunks)} jobs"})
        results = await asyncio.gather(
            *(
                ctx.remote(
                    CHUNK_JOB,
                    {**common, "cells": chunk, "folds": inputs.walk_forward, "chunk": i},
                    resources=dict(inputs.resources),
                    timeout_s=inputs.timeout_s,
                )
                for i, chunk in enumerate(chunks)
            )
        )
        rows = self._merge(cells, results)
        table = rank(rows, names)
        best = table[0]
        walk = self._walk_forward(inputs, rows, prices, names)
        grid = [[*r["params"], r["metrics"]["sharpe"]] for r in rows]
        picks = [list(f["picked"].values()) for f in walk["folds"]] if walk else None
        drawn = await ctx.remote(
            REPORT_JOB,
            {
                **common,
                "names": list(names),
                "grid": grid,
                "best": list(best.params.values()),
                "picks": picks,
            },
            resources=dict(inputs.resources),
            timeout_s=inputs.timeout_s,
        )
        if walk is not None:
            walk["out_of_sample"] = drawn["oos"]
        artifacts = [ArtifactRef.model_validate(a) for a in drawn.get("artifacts", [])]
        artifacts.append(self._csv(ctx, table))
        return BacktestOutput(
            sweep_id=sweep_id,
            strategy=inputs.strategy,
            cells=len(cells),
            jobs=len(chunks),
            data={
                "kind": data["kind"],
                "assets": prices.symbols,
                "start": prices.dates[0],
                "end": prices.dates[-1],
                "days": days,
                "sha256": prices.sha256,
            },
            table=table[: inputs.top],
            best=best,
            walk_forward=walk,
            artifacts=artifacts,
        )

    @staticmethod
    def _sweep_id(inputs: BacktestInput, data_sha: str) -> str:
        what = inputs.model_dump(
            mode="json", exclude={"top", "chunk_cells", "timeout_s", "resources"}
        )
        blob = json.dumps({"inputs": what, "data": data_sha}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @staticmethod
    def _merge(cells: list[list[float]], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every grid cell exactly once, or the step fails (never a silently partial table)."""
        by_cell: dict[tuple[float, ...], dict[str, Any]] = {}
        for res in results:
            for row in res["rows"]:
                cell = tuple(row["params"])
                if cell in by_cell:
                    raise SkillFailed(f"grid cell {list(cell)} came back twice")
                by_cell[cell] = row
        missing = [c for c in cells if tuple(c) not in by_cell]
        if missing or len(by_cell) != len(cells):
            raise SkillFailed(f"{len(missing)} grid cell(s) never came back, e.g. {missing[:3]}")
        return [by_cell[tuple(c)] for c in cells]

    @staticmethod
    def _walk_forward(
        inputs: BacktestInput, rows: list[dict[str, Any]], prices: Any, names: tuple[str, str]
    ) -> dict[str, Any] | None:
        k = inputs.walk_forward
        if not k:
            return None
        dates = prices.dates[1:]  # return days
        folds = []
        for i, ((a, b), (c, d)) in enumerate(fold_bounds(len(dates), k)):
            ordered = sorted(rows, key=lambda r: (_key(r["folds"][i]["train_sharpe"]), r["params"]))
            pick = ordered[0]
            folds.append(
                {
                    "fold": i + 1,
                    "train_dates": [dates[a], dates[b - 1]],
                    "test_dates": [dates[c], dates[d - 1]],
                    "picked": dict(zip(names, pick["params"], strict=True)),
                    "train_sharpe": pick["folds"][i]["train_sharpe"],
                    "test": pick["folds"][i]["test"],
                }
            )
        return {"folds": folds}

    @staticmethod
    def _csv(ctx: SkillContext, table: list[Row]) -> ArtifactRef:
        cols = ["rank", *table[0].params, *list(Row.model_fields)[2:]]
        lines = [",".join(cols)]
        for r in table:
            m = r.model_dump()
            vals = [r.rank, *r.params.values(), *(m[c] for c in cols[1 + len(r.params) :])]
            lines.append(",".join("" if v is None else f"{v:.10g}" for v in vals))
        data = ("\n".join(lines) + "\n").encode()
        return ctx.put_artifact(data, name="sweep.csv", media_type="text/csv")
