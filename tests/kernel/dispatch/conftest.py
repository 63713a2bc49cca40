"""Real Dask for the dispatcher tests: an embedded LocalCluster, or a scheduler and ``sgr
worker`` processes this test starts (and kills) itself.

Dask missing skips the ``dask`` tests locally and FAILS them under ``CI=true``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

if str(Path(__file__).resolve().parent) not in sys.path:  # remote_helpers, dask_procs
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from dask_procs import ExternalCluster, need_dask


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExternalCluster]:
    """A scheduler, two plain worker processes (two threads each) and one ``GPU=1`` worker."""
    need_dask()
    c = ExternalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start_scheduler()
        c.start_workers("--nworkers", "2", "--nthreads", "2", "--name", "cpu")
        c.start_workers("--resources", "GPU=1", "--name", "gpu")
        c.wait_workers(3)
        yield c
    finally:
        c.close()


@pytest.fixture
def make_external(tmp_path: Path) -> Iterator[Callable[..., ExternalCluster]]:
    """A cluster of this test's own (one it may kill)."""
    need_dask()
    made: list[ExternalCluster] = []

    def make(**kw: Any) -> ExternalCluster:
        c = ExternalCluster(tmp_path, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture(scope="module")
def embedded() -> Iterator[Any]:
    """A DaskDispatcher on its embedded LocalCluster (two single-threaded workers)."""
    need_dask()
    import asyncio

    from sgr_kernel.dispatch.config import load_dispatch_settings
    from sgr_kernel.dispatch.dask import DaskDispatcher

    settings = load_dispatch_settings(
        env={}, resource_wait_s=1.0, cancel_grace_s=0.5, allowed_failures=1
    )
    d = DaskDispatcher(settings=settings)
    d.connect()
    yield d
    asyncio.run(d.close())
