"""The vectorised engine against a plain-Python loop oracle (random cases) and against
small cases computed by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import backtest as oracle

from sgr_skills.backtest._data import synthetic
from sgr_skills.backtest._engine import metrics, net_returns, positions
from sgr_skills.backtest._jobs import score_cells


def engine(strategy: str, close: Any, p1: float, p2: float, **kw: Any) -> dict[str, Any]:
    pos = positions(strategy, close, p1, p2, allow_short=kw.get("allow_short", True))
    net, traded, _ = net_returns(close, pos, kw["cost_bps"])
    return metrics(net, traded, pos[:-1])


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert set(got) == set(want)
    for k, w in want.items():
        g = got[k]
        if w is None or g is None:
            assert g is None and w is None, (k, g, w)
        else:
            assert math.isclose(g, w, rel_tol=1e-6, abs_tol=1e-9), (k, g, w)


CELLS = {
    "ma_crossover": st.tuples(st.integers(1, 15), st.integers(2, 40)).filter(lambda c: c[0] < c[1]),
    "momentum": st.tuples(st.integers(1, 40), st.sampled_from([0.0, 0.01, 0.03, 0.1])),
    "mean_reversion": st.tuples(st.integers(2, 30), st.sampled_from([0.0, 0.5, 1.0, 1.7])),
}


@st.composite
def case(draw: Any) -> tuple[str, Any, float, float, float, bool]:
    strategy = draw(st.sampled_from(sorted(CELLS)))
    p1, p2 = draw(CELLS[strategy])
    days = draw(st.integers(45, 160))
    assets = draw(st.integers(1, 3))
    if draw(st.booleans()):  # GBM with regimes
        close = synthetic(assets=assets, days=days, seed=draw(st.integers(0, 2**32 - 1))).close
    else:  # rounded prices: flat stretches and exact ties
        ints = st.lists(st.integers(9_000, 9_010), min_size=days, max_size=days)
        close = np.array([draw(ints) for _ in range(assets)], dtype=float).T / 100.0
    cost = draw(st.sampled_from([0.0, 1.0, 10.0, 250.0]))
    return strategy, close, float(p1), float(p2), cost, draw(st.booleans())


@settings(max_examples=300, deadline=None)
@given(case())
def test_engine_equals_the_loop_oracle_on_random_cases(c: Any) -> None:
    strategy, close, p1, p2, cost, short = c
    got = engine(strategy, close, p1, p2, cost_bps=cost, allow_short=short)
    want = oracle(strategy, close.T.tolist(), p1, p2, cost_bps=cost, allow_short=short)
    assert_same(got, want)


def test_ma_crossover_by_hand() -> None:
    # closes 10, 11, 12, 11, 10, 12; fast 1 (the close), slow 2.
    close = np.array([[10.0], [11.0], [12.0], [11.0], [10.0], [12.0]])
    pos = positions("ma_crossover", close, 1, 2)
    # day 0: no 2-day average -> 0; day 1: 11 > 10.5 -> +1; day 2: 12 > 11.5 -> +1;
    # day 3: 11 < 11.5 -> -1; day 4: 10 < 10.5 -> -1; day 5: 12 > 11 -> +1.
    assert pos[:, 0].tolist() == [0, 1, 1, -1, -1, 1]
    net, traded, gross = net_returns(close, pos, cost_bps=100)  # 1 % per unit traded
    # held: day1..5 earn pos[0..4] = 0, 1, 1, -1, -1; trades booked: |0-0|, |1-0|, 0, |-1-1|, 0.
    assert traded[:, 0].tolist() == [0, 1, 0, 2, 0]
    want = [0.0, 12 / 11 - 1 - 0.01, 11 / 12 - 1, -(10 / 11 - 1) - 0.02, -(12 / 10 - 1)]
    assert np.allclose(net[:, 0], want)
    assert np.allclose(gross[:, 0], [0.0, 12 / 11 - 1, 11 / 12 - 1, -(10 / 11 - 1), -0.2])


def test_metrics_by_hand() -> None:
    # Two days of +10 % then -10 %: equity 1.1 then 0.99.
    net = np.array([[0.1], [-0.1]])
    m = metrics(net, np.array([[1.0], [0.0]]), np.array([[1.0], [1.0]]))
    assert m["total_return"] == pytest.approx(-0.01)
    assert m["max_drawdown"] == pytest.approx(0.1)  # 1.1 -> 0.99
    assert m["sharpe"] == pytest.approx(0.0)  # mean 0
    assert m["hit_rate"] == pytest.approx(0.5)
    assert m["turnover"] == pytest.approx(1.0 * 252 / 2)
    assert m["cagr"] == pytest.approx(0.99 ** (252 / 2) - 1)
    # Sortino: mean 0 over downside deviation sqrt((0 + 0.01) / 2).
    assert m["sortino"] == pytest.approx(0.0)
    up = metrics(np.array([[0.01], [0.03]]), np.zeros((2, 1)), np.ones((2, 1)))
    assert up["sharpe"] == pytest.approx(0.02 / math.sqrt(2e-4) * math.sqrt(252))
    assert up["sortino"] is None and up["max_drawdown"] == 0.0  # no downside at all


def test_momentum_and_mean_reversion_by_hand() -> None:
    close = np.array([[100.0], [104.0], [101.0], [98.0], [103.0]])
    # momentum lookback 1, threshold 2 %: +4 % -> +1, -2.9 % -> -1, -3 % -> -1, +5.1 % -> +1.
    assert positions("momentum", close, 1, 0.02)[:, 0].tolist() == [0, 1, -1, -1, 1]
    assert positions("momentum", close, 1, 0.02, allow_short=False)[:, 0].tolist() == [
        0,
        1,
        0,
        0,
        1,
    ]
    # mean reversion window 2: z = +1 above the 2-day mean, -1 below; entry 0.5 -> fade it.
    assert positions("mean_reversion", close, 2, 0.5)[:, 0].tolist() == [0, -1, 1, 1, -1]


def test_a_flat_market_never_trades() -> None:
    close = np.full((50, 2), 42.0)
    for strategy, p1, p2 in [
        ("ma_crossover", 3, 10),
        ("momentum", 5, 0.0),
        ("mean_reversion", 5, 0.0),
    ]:
        pos = positions(strategy, close, p1, p2)
        assert not pos.any(), strategy


def test_score_cells_with_folds_agrees_with_slices() -> None:
    close = synthetic(assets=2, days=300, seed=3).close
    (row,) = score_cells("momentum", close, [[20, 0.0]], cost_bps=5, allow_short=True, folds=2)
    assert len(row["folds"]) == 2
    pos = positions("momentum", close, 20, 0.0)
    net, traded, _ = net_returns(close, pos, 5)
    # fold 2 tests on the last third of the 299 return days
    lo = round(299 * 2 / 3)
    assert_same(row["folds"][1]["test"], metrics(net[lo:], traded[lo:], pos[:-1][lo:]))


def test_synthetic_prices_are_seeded_and_follow_their_regimes() -> None:
    a = synthetic(assets=3, days=500, seed=11)
    assert a.sha256 == synthetic(assets=3, days=500, seed=11).sha256
    assert a.sha256 != synthetic(assets=3, days=500, seed=12).sha256
    up = synthetic(assets=20, days=400, seed=1, regimes=[(400, 1.0, 0.05)]).close
    down = synthetic(assets=20, days=400, seed=1, regimes=[(400, -1.0, 0.05)]).close
    assert (up[-1] > up[0]).all() and (down[-1] < down[0]).all()
    assert a.dates[0] == "2015-01-02" and len(a.dates) == 500
