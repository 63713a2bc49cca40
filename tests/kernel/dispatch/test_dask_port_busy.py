"""The embedded LocalCluster starts cleanly when port 8787 (Dask's dashboard default) is taken
by another process: no "port already in use" warning, which the test settings make an error."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

pytestmark = pytest.mark.dask


def test_embedded_cluster_starts_with_8787_busy() -> None:
    pytest.importorskip("distributed")
    from sgr_kernel.dispatch.config import load_dispatch_settings
    from sgr_kernel.dispatch.dask import DaskDispatcher

    s = socket.socket()
    with contextlib.suppress(OSError):  # already taken by someone else: just as good
        s.bind(("0.0.0.0", 8787))
        s.listen()
    try:
        d = DaskDispatcher(settings=load_dispatch_settings(env={}, local_workers=1))
        d.connect()
        asyncio.run(d.close())
    finally:
        s.close()
