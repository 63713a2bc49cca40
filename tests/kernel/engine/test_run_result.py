"""A run's result shows a long run's outputs as their first step ids and a count."""

from __future__ import annotations

from sgr_kernel.engine import RunResult
from sgr_kernel.models.status import RunStatus


def test_a_long_runs_outputs_are_elided_in_its_repr() -> None:
    outputs = {f"n{i}": {"v": i} for i in range(1000)}
    text = repr(RunResult(run_id="r1", status=RunStatus.COMPLETED, outputs=outputs))
    assert "'n0': ..., 'n1': ..., 'n2': ..., ... (1000 steps)" in text
    assert "n999" not in text and len(text) < 200


def test_a_short_runs_outputs_are_shown_whole() -> None:
    result = RunResult(run_id="r1", status=RunStatus.COMPLETED, outputs={"a": {"v": 1}})
    assert "outputs={'a': {'v': 1}}" in repr(result)
    assert result.outputs == {"a": {"v": 1}}  # the data itself is whole either way
