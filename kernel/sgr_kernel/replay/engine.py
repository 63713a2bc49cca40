"""The ReplayEngine: strict replay of recorded runs with zero live calls (docs/architecture.md).

The real engine re-runs against the recording (``sgr_kernel.engine.replaying``): every model,
sandbox, HTTP and remote answer is served from the trace, every request and step outcome is
compared, and the recorded launch order is the schedule. Three sizes, after Temporal's
``Replayer``: :meth:`ReplayEngine.replay_run`, :meth:`~ReplayEngine.replay_runs` and
:meth:`~ReplayEngine.replay_iterator`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence

from sgr_kernel.engine.replaying import Divergence, ReplayReport, replay_records
from sgr_kernel.errors import SgrUsageError
from sgr_kernel.skills.base import Skill
from sgr_kernel.trace.base import Record, TraceStore

__all__ = ["Divergence", "ReplayEngine", "ReplayReport"]


class ReplayEngine:
    """Replays runs from a store against the given skills."""

    def __init__(self, skills: Mapping[str, type[Skill]], store: TraceStore | None = None) -> None:
        self.skills = skills
        self.store = store

    def _records(self, run: str | Sequence[Record]) -> Sequence[Record]:
        if isinstance(run, str):
            if self.store is None:
                raise SgrUsageError("replay by run id needs a store")
            return self.store.read(run).records
        return run

    async def replay_run(self, run: str | Sequence[Record], *, strict: bool = True) -> ReplayReport:
        """Replay one run. ``strict``: the first divergence raises ReplayDivergenceError."""
        report = await replay_records(self.skills, self._records(run))
        return report.raise_first() if strict else report

    async def replay_runs(self, runs: Iterable[str | Sequence[Record]]) -> list[ReplayReport]:
        """Replay many runs; divergences are reported, not raised."""
        return [r async for r in self.replay_iterator(runs)]

    async def replay_iterator(
        self, runs: Iterable[str | Sequence[Record]]
    ) -> AsyncIterator[ReplayReport]:
        """Yield one report per run as it finishes."""
        for run in runs:
            yield await self.replay_run(run, strict=False)
