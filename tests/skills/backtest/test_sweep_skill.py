"""``backtest_sweep`` end to end on the inline dispatcher: the table equals the engine cell
by cell, chunks cover the grid once, artifacts are stored by content, walk-forward picks in
sample and reports out of sample, bad inputs are refused before any job, replay is free."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from heavy_helpers import kernel, one_step, progress, remote_keys

from sgr_kernel.dispatch._jobctx import CANCELLED, RunningJob, run_body
from sgr_kernel.dispatch.base import job_function
from sgr_kernel.dispatch.inline import InlineDispatcher
from sgr_kernel.errors import PlanValidationError, ReplayDivergenceError
from sgr_kernel.models.status import RunStatus
from sgr_skills.backtest._data import DataError, load, synthetic
from sgr_skills.backtest._jobs import CHUNK_JOB, REPORT_JOB, score_cells

DATA = {"kind": "synthetic", "assets": 3, "days": 600, "seed": 5}
PNG = b"\x89PNG\r\n\x1a\n"


def run(tmp: Path, inputs: dict[str, Any]) -> tuple[Any, Any, InlineDispatcher]:
    d = InlineDispatcher()
    k = kernel(tmp, d)
    return k, asyncio.run(k.run(plan=one_step("backtest_sweep", inputs))), d


def test_a_sweep_scores_every_cell_once_in_chunks_and_ranks_them(tmp_path: Path) -> None:
    grid = {"fast": [5, 10, 20], "slow": [20, 50, 100]}
    k, res, d = run(
        tmp_path,
        {"strategy": "ma_crossover", "data": DATA, "grid": grid, "chunk_cells": 2, "top": 50},
    )
    assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
    out = res.outputs["s"]
    cells = [[5, 20], [5, 50], [5, 100], [10, 20], [10, 50], [10, 100], [20, 50], [20, 100]]
    assert out["cells"] == 8 and out["jobs"] == 4 and d.submitted == 5  # 4 chunks + the report
    prices = synthetic(assets=3, days=600, seed=5)
    want = {
        tuple(r["params"]): r["metrics"]
        for r in score_cells("ma_crossover", prices.close, cells, cost_bps=5.0, allow_short=True)
    }
    table = out["table"]
    assert [r["rank"] for r in table] == list(range(1, 9))
    assert sorted(tuple(r["params"].values()) for r in table) == sorted(map(tuple, cells))
    for row in table:
        m = want[tuple(row["params"].values())]
        assert row["sharpe"] == pytest.approx(m["sharpe"]) and row["cagr"] == pytest.approx(
            m["cagr"]
        )
    sharpes = [r["sharpe"] for r in table if r["sharpe"] is not None]
    assert sharpes == sorted(sharpes, reverse=True) and out["best"] == table[0]
    names = {a["name"]: a for a in out["artifacts"]}
    assert set(names) == {"heatmap.png", "equity.png", "sweep.csv"}
    for name in ("heatmap.png", "equity.png"):
        assert k.store.get_artifact(res.run_id, names[name]["sha256"]).startswith(PNG)
    rows = list(
        csv.DictReader(
            io.StringIO(k.store.get_artifact(res.run_id, names["sweep.csv"]["sha256"]).decode())
        )
    )
    assert (
        len(rows) == 8
        and rows[0]["rank"] == "1"
        and float(rows[0]["sharpe"]) == pytest.approx(table[0]["sharpe"])
    )
    records = k.store.read(res.run_id).records
    assert len(remote_keys(records)) == 5
    assert any(p.get("fraction") == 1.0 for p in progress(records))
    assert out["data"]["assets"] == ["SYN0", "SYN1", "SYN2"] and out["data"]["days"] == 600


def test_walk_forward_picks_in_sample_and_reports_out_of_sample(tmp_path: Path) -> None:
    grid = {"lookback": [10, 40, 80], "threshold": [0.0, 0.05]}
    k, res, _ = run(
        tmp_path, {"strategy": "momentum", "data": DATA, "grid": grid, "walk_forward": 3}
    )
    assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
    wf = res.outputs["s"]["walk_forward"]
    assert [f["fold"] for f in wf["folds"]] == [1, 2, 3]
    close = synthetic(assets=3, days=600, seed=5).close
    cells = [[lb, th] for lb in (10, 40, 80) for th in (0.0, 0.05)]
    rows = score_cells("momentum", close, cells, cost_bps=5.0, allow_short=True, folds=3)
    for i, fold in enumerate(wf["folds"]):
        best = max(rows, key=lambda r: r["folds"][i]["train_sharpe"] or -1e9)
        assert list(fold["picked"].values()) == best["params"]
        assert fold["test"]["sharpe"] == pytest.approx(best["folds"][i]["test"]["sharpe"])
        assert fold["train_dates"][1] < fold["test_dates"][0]  # no look-ahead
    oos = wf["out_of_sample"]
    assert oos["days"] == sum(f["test"]["days"] for f in wf["folds"])


def test_user_csv_and_parquet_give_the_same_table_as_the_same_prices(tmp_path: Path) -> None:
    prices = synthetic(assets=2, days=400, seed=9)
    long = pd.DataFrame(
        [
            {
                "Date": d,
                "Symbol": s,
                "Open": 1,
                "High": 1,
                "Low": 1,
                "Close": repr(float(p)),
                "Volume": 10,
            }
            for i, d in enumerate(prices.dates)
            for s, p in zip(prices.symbols, prices.close[i], strict=True)
        ]
    )
    long.to_csv(tmp_path / "ohlcv.csv", index=False)
    long.assign(Close=long["Close"].astype(float)).to_parquet(tmp_path / "ohlcv.parquet")
    base = {"strategy": "mean_reversion", "grid": {"window": [10, 20], "entry_z": [1.0, 2.0]}}
    _, syn, _ = run(
        tmp_path / "a", {**base, "data": {"kind": "synthetic", "assets": 2, "days": 400, "seed": 9}}
    )
    for name in ("ohlcv.csv", "ohlcv.parquet"):
        k, res, _ = run(
            tmp_path / f"home-{name}",
            {**base, "data": {"kind": "file", "path": str(tmp_path / name)}},
        )
        assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
        got = {tuple(r["params"].values()): r["sharpe"] for r in res.outputs["s"]["table"]}
        want = {tuple(r["params"].values()): r["sharpe"] for r in syn.outputs["s"]["table"]}
        assert got == pytest.approx(want)
        assert res.outputs["s"]["data"]["assets"] == prices.symbols


BAD = [
    ({"kind": "file", "path": "/nonexistent/prices.csv"}, "no data file"),
    ("no_close.csv", "needs a 'date' and a 'close' column"),
    ("negative.csv", "missing or non-positive"),
    ("short.csv", "longest window"),
    ("notes.txt", "give a .csv or .parquet"),
]


@pytest.mark.parametrize(("data", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_data_is_refused_before_any_job_is_submitted(
    tmp_path: Path, data: Any, message: str
) -> None:
    files = {
        "no_close.csv": "date,open\n2024-01-02,1\n2024-01-03,2\n2024-01-04,3\n",
        "negative.csv": "date,close\n2024-01-02,1\n2024-01-03,-2\n2024-01-04,3\n2024-01-05,3\n",
        "short.csv": "date,close\n" + "".join(f"2024-01-{d:02d},{d}\n" for d in range(1, 30)),
        "notes.txt": "hello",
    }
    if isinstance(data, str):
        (tmp_path / data).write_text(files[data])
        data = {"kind": "file", "path": str(tmp_path / data)}
    k, res, d = run(tmp_path, {"strategy": "ma_crossover", "data": data})
    assert res.status is RunStatus.FAILED
    step = k.show(res.run_id).steps[0]
    assert message in (step.error or ""), step.error
    assert d.submitted == 0  # refused before any job


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"strategy": "pairs"}, "strategy"),
        ({"strategy": "momentum", "cost_bps": -1}, "cost_bps"),
        ({"strategy": "momentum", "walk_forward": 11}, "walk_forward"),
    ],
)
def test_bad_fields_fail_plan_validation_and_nothing_runs(
    tmp_path: Path, inputs: dict[str, Any], message: str
) -> None:
    d = InlineDispatcher()
    k = kernel(tmp_path, d)
    with pytest.raises(PlanValidationError, match=message):
        asyncio.run(k.run(plan=one_step("backtest_sweep", inputs)))
    assert d.submitted == 0


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"strategy": "ma_crossover", "grid": {"fast": [5], "lookback": [3]}},
            "needs exactly the params",
        ),
        (
            {"strategy": "ma_crossover", "grid": {"fast": [50], "slow": [20]}},
            "no cell with fast < slow",
        ),
        ({"strategy": "momentum", "grid": {"lookback": [2.5], "threshold": [0]}}, "whole numbers"),
        ({"strategy": "momentum", "data": DATA, "walk_forward": 8}, "use fewer folds"),
    ],
)
def test_bad_grids_fail_the_step_before_any_job(
    tmp_path: Path, inputs: dict[str, Any], message: str
) -> None:
    k, res, d = run(tmp_path, inputs)
    assert res.status is RunStatus.FAILED
    step = k.show(res.run_id).steps[0]
    assert message in (step.error or "") and step.attempts == 1, step  # never retried
    assert d.submitted == 0


def test_a_file_changed_after_planning_is_refused_by_the_job(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("date,close\n2024-01-02,1\n2024-01-03,2\n2024-01-04,3\n")
    sha = load(str(path)).sha256
    path.write_text("date,close\n2024-01-02,1\n2024-01-03,2\n2024-01-04,4\n")
    with pytest.raises(DataError, match="changed since the sweep was planned"):
        load(str(path), expect_sha256=sha)


def test_jobs_stop_cooperatively_when_cancelled(tmp_path: Path) -> None:
    asked = []

    def cancelled_after_two() -> bool:
        asked.append(1)
        return len(asked) > 2

    cells = [[lb, 0.0] for lb in range(2, 40)]
    ctx = RunningJob("k", lambda p: None, cancelled_after_two, poll_s=0.0)
    params = {
        "strategy": "momentum",
        "cells": cells,
        "data": DATA,
        "cost_bps": 1.0,
        "allow_short": True,
    }
    assert run_body(job_function(CHUNK_JOB), params, ctx) == {CANCELLED: "k"}
    assert len(asked) == 3  # stopped at the first look after the flag
    ctx = RunningJob("r", lambda p: None, lambda: True, poll_s=0.0)
    report = {
        "strategy": "momentum", "data": DATA, "cost_bps": 1.0, "allow_short": True,
        "names": ["lookback", "threshold"], "grid": [[2, 0.0, 0.1]], "best": [2, 0.0],
    }  # fmt: skip
    assert run_body(job_function(REPORT_JOB), report, ctx) == {CANCELLED: "r"}


def test_strict_replay_of_a_sweep_makes_no_call_and_sends_no_job(tmp_path: Path) -> None:
    d = InlineDispatcher()
    k = kernel(tmp_path, d)

    async def go() -> tuple[Any, Any, int]:
        res = await k.run(plan=one_step("backtest_sweep", {"strategy": "momentum", "data": DATA}))
        before = d.submitted
        return res, await k.replay(res.run_id, strict=True), d.submitted - before

    res, report, submits = asyncio.run(go())
    assert res.status is RunStatus.COMPLETED
    assert report.ok and report.live_calls == 0 and submits == 0


def test_cancelling_the_run_stops_the_sweep_jobs_cooperatively(tmp_path: Path) -> None:
    """A cancelled run asks every chunk job to stop; their bodies see the flag between cells."""
    d = InlineDispatcher()
    k = kernel(tmp_path, d)
    big = {"kind": "synthetic", "assets": 60, "days": 5000, "seed": 1}
    grid = {"lookback": list(range(5, 205, 5)), "threshold": [0.0, 0.01, 0.02, 0.03]}
    inputs = {"strategy": "momentum", "data": big, "grid": grid, "chunk_cells": 40}

    async def go() -> tuple[Any, list[Any]]:
        handle = await k.start(plan=one_step("backtest_sweep", inputs))
        while not progress(k.store.read(handle.run_id).records):
            await asyncio.sleep(0.05)  # a chunk is under way
        running = [j.future for j in d._jobs.values()]
        res = await k.cancel(handle.run_id)
        return res, [await f for f in running]  # what each job body returned

    res, bodies = asyncio.run(go())
    assert res.status is RunStatus.CANCELLED
    assert len(bodies) == 4
    assert all(CANCELLED in b for b in bodies), bodies  # every body stopped between cells
    assert remote_keys(k.store.read(res.run_id).records) == []


def test_a_relative_file_path_reaches_the_jobs_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = synthetic(assets=1, days=300, seed=2)
    rows = "".join(
        f"{d},{float(c)!r}\n" for d, c in zip(prices.dates, prices.close[:, 0], strict=True)
    )
    (tmp_path / "p.csv").write_text("date,close\n" + rows)
    monkeypatch.chdir(tmp_path)
    inputs = {"strategy": "momentum", "data": {"kind": "file", "path": "p.csv"}}
    k, res, _ = run(tmp_path / "home", inputs)
    assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
    sent = [
        r.data["request"]["params"]["data"]["path"]
        for r in k.store.read(res.run_id).records
        if r.type.value == "intent" and r.data.get("kind") == "remote"
    ]
    assert sent and set(sent) == {str(tmp_path / "p.csv")}


def test_a_file_edited_between_two_sweeps_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    inputs = {"strategy": "momentum", "data": {"kind": "file", "path": str(path)}}
    d = InlineDispatcher()
    k = kernel(tmp_path / "home", d)
    shas = []
    for seed in (1, 2):
        prices = synthetic(assets=1, days=300, seed=seed)
        rows = zip(prices.dates, prices.close[:, 0].tolist(), strict=True)
        path.write_text("date,close\n" + "".join(f"{d},{c!r}\n" for d, c in rows))
        res = asyncio.run(k.run(plan=one_step("backtest_sweep", inputs)))
        assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
        shas.append(res.outputs["s"]["data"]["sha256"])
    assert shas[0] != shas[1]


def test_chunks_are_sized_to_work_and_bounded_in_number() -> None:
    from sgr_skills.backtest._skill import MAX_JOBS, WORK_PER_JOB, chunk_cells

    assert chunk_cells(24, 12_600) == 239  # a small grid on small data: one job
    assert chunk_cells(1000, 100_800) == 30  # about WORK_PER_JOB points a job
    assert chunk_cells(20_000, WORK_PER_JOB) == -(-20_000 // MAX_JOBS)  # at most MAX_JOBS jobs
    assert chunk_cells(10, WORK_PER_JOB * 5) == 1
    assert chunk_cells(10, 100, wanted=3) == 3


def test_a_long_file_is_aligned_on_the_dates_every_asset_has(tmp_path: Path) -> None:
    rows = [
        ("2024-01-05", "B", 20.0),
        ("2024-01-02", "A", 1.0),
        ("2024-01-03", "A", 2.0),
        ("2024-01-04", "A", 3.0),
        ("2024-01-05", "A", 4.0),
        ("2024-01-03", "B", 10.0),
        ("2024-01-04", "B", 15.0),
    ]  # shuffled; B has no 2 January
    path = tmp_path / "long.csv"
    path.write_text("Ticker,Date,Close\n" + "".join(f"{s},{d},{c}\n" for d, s, c in rows))
    prices = load(str(path))
    assert prices.symbols == ["A", "B"]
    assert prices.dates == ["2024-01-03", "2024-01-04", "2024-01-05"]
    assert prices.close.tolist() == [[2.0, 10.0], [3.0, 15.0], [4.0, 20.0]]
    dup = tmp_path / "dup.csv"
    dup.write_text("date,symbol,close\n2024-01-02,A,1\n2024-01-02,A,2\n2024-01-03,A,2\n")
    with pytest.raises(DataError, match="row 3 repeats a date for 'A'"):
        load(str(dup))
    bad = tmp_path / "bad.csv"
    bad.write_text("date,close\n2024-01-02,1\nnot a date,2\n2024-01-04,3\n")
    with pytest.raises(DataError, match="row 3 has a date that cannot be read"):
        load(str(bad))


def test_replaying_a_sweep_whose_file_changed_is_a_divergence(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"

    def write(seed: int) -> None:
        prices = synthetic(assets=1, days=300, seed=seed)
        rows = zip(prices.dates, prices.close[:, 0].tolist(), strict=True)
        path.write_text("date,close\n" + "".join(f"{d},{c!r}\n" for d, c in rows))

    write(1)
    d = InlineDispatcher()
    k = kernel(tmp_path / "home", d)
    inputs = {"strategy": "momentum", "data": {"kind": "file", "path": str(path)}}

    async def go() -> tuple[Any, Any]:
        res = await k.run(plan=one_step("backtest_sweep", inputs))
        return res, await k.replay(res.run_id, strict=True)

    res, same = asyncio.run(go())
    assert res.status is RunStatus.COMPLETED
    assert same.ok and same.live_calls == 0
    write(2)
    submitted = d.submitted
    with pytest.raises(ReplayDivergenceError, match="call #1 \\(remote\\) has a different request"):
        asyncio.run(k.replay(res.run_id, strict=True))
    assert d.submitted == submitted  # nothing was sent
