"""The suite's one summary figure (collected last in this folder: its name sorts last)."""

from __future__ import annotations

from _tally import TOTAL


def test_summary_figure() -> None:
    print(
        f"FIGURE cases={TOTAL.cases} clear_errors={TOTAL.clear_errors} "
        f"tracebacks={TOTAL.tracebacks} hangs={TOTAL.hangs} state_damaged={TOTAL.state_damaged}"
    )
    assert TOTAL.tracebacks == TOTAL.hangs == TOTAL.state_damaged == 0
