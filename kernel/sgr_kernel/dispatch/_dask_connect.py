"""Reaching a Dask cluster: the project's Dask settings, the three ways to get a client, and the
one-line errors a bad address gives. Imported only when Dask is used."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from sgr_kernel.dispatch.config import DispatchSettings
from sgr_kernel.errors import ClusterConnectError

__all__ = ["apply_dask_settings", "connect", "dask_settings", "require_distributed"]

MALLOC_MMAP_THRESHOLD = 64 * 1024 * 1024
"""The nanny's default malloc trimming makes numpy code on workers 2.5-4.5x slower; this
threshold keeps large buffers out of the trimmed heap."""


def require_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterConnectError(
            "Dask is not installed; run `pip install 'sgr-jupyter[dask]'`"
        ) from None
    return distributed


def dask_settings(settings: DispatchSettings) -> dict[str, Any]:
    """The Dask configuration sgr applies to the clusters and workers it starts."""
    return {
        "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": MALLOC_MMAP_THRESHOLD,
        "distributed.scheduler.allowed-failures": settings.allowed_failures,
        # A job whose able workers all left (or are restarting) waits this long, then errs:
        # never a hang. Missing resources are caught earlier, by the dispatcher's own wait.
        "distributed.scheduler.no-workers-timeout": f"{max(settings.resource_wait_s, 30):g}s",
        # Job bodies may start processes of their own (a sandbox, a forked deadline).
        "distributed.worker.daemon": False,
    }


def apply_dask_settings(settings: DispatchSettings) -> None:
    """Set the project's Dask configuration in this process (before a cluster starts)."""
    import dask

    dask.config.set(dask_settings(settings))


def _check_address(address: str) -> None:
    from distributed.comm.addressing import parse_address

    try:
        scheme, loc = parse_address(address, strict=True)
    except (ValueError, TypeError) as e:
        raise ClusterConnectError(
            f"{address!r} is not a Dask scheduler address ({e}); write it as tcp://HOST:PORT"
        ) from None
    if scheme in ("tcp", "tls") and (":" not in loc or not loc.rsplit(":", 1)[1].isdigit()):
        raise ClusterConnectError(
            f"{address!r} has no port; write it as {scheme}://HOST:PORT (the default is 8786)"
        )


_MUST_MATCH = ("dask", "distributed", "cloudpickle", "msgpack", "toolz")


def _check_versions(client: Any, address: str) -> None:
    """The packages that shape the wire and pickles must match; Python only to the minor."""
    try:
        versions = client.get_versions(check=False)
    except Exception:
        return  # an old scheduler without the call: Dask's own checks apply
    here = versions.get("client", {}).get("packages", {})
    there = versions.get("scheduler", {}).get("packages", {})
    diffs = [
        f"{name} {here.get(name)} here, {there.get(name)} at the scheduler"
        for name in _MUST_MATCH
        if here.get(name) != there.get(name)
    ]
    py_here, py_there = str(here.get("python", "")), str(there.get("python", ""))
    if py_here.split(".")[:2] != py_there.split(".")[:2]:
        diffs.append(f"python {py_here} here, {py_there} at the scheduler")
    if diffs:
        client.close()
        raise ClusterConnectError(
            f"the Dask scheduler at {address} runs other versions ({'; '.join(diffs)}); "
            "install the same versions on both sides"
        )


def connect(settings: DispatchSettings, address: str | None = None) -> tuple[Any, Any]:
    """A client and the cluster this process owns (None when it joined an existing one).

    An ``address`` (or the settings' one) is connected to; else a client already live in this
    process (``get_client()``) is reused; else an embedded ``LocalCluster`` is started.
    """
    distributed = require_distributed()
    address = address or settings.address
    if address:
        _check_address(address)
        try:
            with warnings.catch_warnings():  # checked below, as one line
                warnings.simplefilter("ignore", distributed.versions.VersionMismatchWarning)
                client = distributed.Client(
                    address, timeout=settings.connect_timeout_s, set_as_default=False
                )
        except (OSError, TimeoutError) as e:
            raise ClusterConnectError(
                f"cannot reach a Dask scheduler at {address} within "
                f"{settings.connect_timeout_s:g}s ({type(e).__name__}); is it running there?"
            ) from None
        except Exception as e:  # version mismatch or a non-Dask peer
            raise ClusterConnectError(
                f"the Dask scheduler at {address} refused this client: {type(e).__name__}: {e}"
            ) from None
        _check_versions(client, address)
        return client, None
    try:
        return distributed.get_client(), None
    except ValueError:
        pass
    apply_dask_settings(settings)  # only for a cluster we start: a user's own config is theirs
    cluster = distributed.LocalCluster(
        n_workers=settings.local_workers,
        threads_per_worker=settings.local_threads,
        processes=True,
        dashboard_address=":0",  # None still binds the HTTP server to 8787 (warns when busy)
        silence_logs=logging.ERROR,
    )
    return distributed.Client(cluster, set_as_default=False), cluster
