"""``%sgr cluster``: start, connect to, list and cancel on the Dask cluster of remote steps."""

from __future__ import annotations

from typing import Any, NamedTuple

from IPython.core.error import UsageError
from IPython.display import display

from sgr_jupyter._commands import ClusterCmd

__all__ = ["ClusterOutcome", "cluster_command"]


class ClusterOutcome(NamedTuple):
    """What a ``%sgr cluster`` command shows, and the scheduler remote steps go to next."""

    result: Any
    address: str | None
    local: Any = None  # an embedded cluster the caller keeps alive as long as the kernel


def cluster_command(cmd: ClusterCmd, address: str | None) -> ClusterOutcome:
    """Run ``cmd`` against ``address`` (the notebook's scheduler so far, or ``None``)."""
    from sgr_jupyter._views import cluster_tables
    from sgr_kernel.dispatch import cluster as c

    local = None
    if cmd.action == "local":
        local = c.start_local(cmd.workers)
        address = local.scheduler_address
    elif cmd.action == "connect":
        assert cmd.target is not None
        c.check_address(cmd.target)
        address = cmd.target
    target = address or c.configured_address()
    if not target:
        raise UsageError(
            "%sgr cluster: no cluster yet; start one with `%sgr cluster local 2` or "
            "`%sgr cluster connect tcp://HOST:PORT` (or set SGR_DASK_ADDRESS)"
        )
    with c.connected(target) as client:
        if cmd.action == "cancel":
            assert cmd.target is not None
            keys = c.cancel_jobs(client, cmd.target)
            print(f"cancelled {len(keys)} job(s)")
            return ClusterOutcome(None, address, local)
        view = c.cluster_view(client)
    workers, jobs = cluster_tables(view)
    if cmd.action != "jobs":
        display(workers)
    return ClusterOutcome(jobs, address, local)
