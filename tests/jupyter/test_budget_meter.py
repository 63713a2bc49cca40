"""The widget's budget meter shows the limits the engine enforces: the stricter of the cell's
and the plan's, field by field (``BudgetPolicy.merged``, the one place for that rule)."""

from __future__ import annotations

from sgr_jupyter._fold import RunFold
from sgr_kernel.models.plan import parse_plan

PLAN = """
name: budgeted
budget: {max_cost_usd: 1.0, max_tokens: 5000}
steps:
  - {id: a, skill: format, inputs: {template: x}}
"""


def test_the_meter_shows_the_stricter_limit_of_cell_and_plan() -> None:
    fold = RunFold(budget={"max_cost_usd": 2.0, "max_tokens": 1000.0, "max_steps": 5.0})
    assert fold.budget()["cost_usd"] == [0.0, 2.0]  # no plan yet: the cell's limits
    fold.state.plan = parse_plan(PLAN)
    meter = fold.budget()
    assert meter["cost_usd"] == [0.0, 1.0]  # the plan's is stricter
    assert meter["tokens"] == [0, 1000]  # the cell's is stricter
    assert meter["steps"] == [0, 5] and isinstance(meter["steps"][1], int)
    assert meter["wall_s"][1] is None and meter["llm_calls"][1] is None
