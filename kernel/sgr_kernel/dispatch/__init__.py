"""Remote jobs: the :class:`Dispatcher` contract, the job-side API and two backends.

``InlineDispatcher`` runs jobs in this process; ``DaskDispatcher`` on a Dask cluster (loaded
only when named, so importing this package never imports Dask). See docs/remote.md.
"""

from __future__ import annotations

from typing import Any

from sgr_kernel.dispatch.base import (
    ARTIFACTS,
    Dispatcher,
    JobCancelled,
    JobContext,
    JobHandle,
    ObservableDispatcher,
    Progress,
    current_job,
    job,
)

__all__ = [
    "ARTIFACTS",
    "DaskDispatcher",
    "Dispatcher",
    "InlineDispatcher",
    "JobCancelled",
    "JobContext",
    "JobHandle",
    "ObservableDispatcher",
    "Progress",
    "current_job",
    "job",
]


def __getattr__(name: str) -> Any:
    if name == "DaskDispatcher":
        from sgr_kernel.dispatch.dask import DaskDispatcher

        return DaskDispatcher
    if name == "InlineDispatcher":
        from sgr_kernel.dispatch.inline import InlineDispatcher

        return InlineDispatcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
