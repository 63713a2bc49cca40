"""``backtest_sweep``: vectorised strategy backtests over a parameter grid on remote workers.

numpy, pandas and matplotlib (the ``heavy`` extra) are imported only when a sweep runs.
"""

from sgr_skills.backtest._models import BacktestInput, BacktestOutput
from sgr_skills.backtest._skill import BacktestSweepSkill

__all__ = ["BacktestInput", "BacktestOutput", "BacktestSweepSkill"]
