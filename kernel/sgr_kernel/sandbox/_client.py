"""Connecting to the Docker engine, failing closed with a message that says how to fix it.

The docker SDK is imported here, lazily: ``import sgr_kernel`` must not import docker.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from sgr_kernel._procs import orphaned
from sgr_kernel.errors import SandboxUnavailable
from sgr_kernel.sandbox._profile import LABEL, OWNER_LABEL

__all__ = [
    "connect",
    "death_reason",
    "default_image",
    "pick_runtime",
    "reap_orphans",
    "require_image",
]

FIX_ENGINE = (
    "start a Docker engine (`bash scripts/ensure-docker.sh` installs and starts one, or "
    "`sudo systemctl start docker`), or point DOCKER_HOST at one"
)
MIN_API = "1.24"
FIX_IMAGE = "build it with `sgr sandbox build` (or `python -m sgr_kernel.sandbox build`)"


def default_image() -> str:
    """``$SGR_SANDBOX_IMAGE``, else the tag of the current recipe."""
    from sgr_kernel.sandbox._build import IMAGE_REPO, recipe_version

    return os.environ.get("SGR_SANDBOX_IMAGE") or f"{IMAGE_REPO}:{recipe_version()}"


def connect(base_url: str | None = None, *, timeout: int = 60) -> Any:
    """A ``DockerClient`` with API version negotiation, or ``SandboxUnavailable``."""
    try:
        import docker
    except ImportError as e:
        raise SandboxUnavailable(
            "the docker SDK is not installed: `pip install 'sgr-jupyter[docker]'`"
        ) from e

    def make(version: str) -> Any:
        if base_url:
            return docker.DockerClient(base_url=base_url, version=version, timeout=timeout)
        return docker.from_env(version=version, timeout=timeout)

    where = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if where.startswith("unix://"):
        # Check the socket ourselves: the SDK leaks its socket when connect() fails.
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(5)
                s.connect(where[len("unix://") :])
        except OSError as e:
            raise SandboxUnavailable(
                f"no Docker engine answers at {where} ({e}); {FIX_ENGINE}. "
                "Sandboxed code is never run on the host."
            ) from e
    probe = None
    try:
        # Ping with a fixed old API version first: "auto" negotiates inside the constructor,
        # and a constructor that fails there leaks its socket.
        probe = make(MIN_API)
        probe.ping()
        client = make("auto")
    except Exception as e:  # the SDK raises several unrelated types for a dead socket
        raise SandboxUnavailable(
            f"no Docker engine answers at {where} ({type(e).__name__}: {str(e)[:200]}); "
            f"{FIX_ENGINE}. Sandboxed code is never run on the host."
        ) from e
    finally:
        if probe is not None:
            probe.close()
    return client


def require_image(client: Any, image: str) -> None:
    """Fail closed when the sandbox image is absent (never pull: there is no registry)."""
    import docker.errors

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise SandboxUnavailable(f"the sandbox image {image} is missing: {FIX_IMAGE}") from None
    except docker.errors.APIError as e:
        raise SandboxUnavailable(f"the Docker engine failed to look up {image}: {e}") from e


def reap_orphans(client: Any, *, everything: bool = False) -> list[str]:
    """Remove sandbox containers that are provably orphaned: their owning process on this host
    is gone (or its pid now belongs to another process). Containers of live owners, and of
    other hosts, are left alone; one that disappears meanwhile (another reaper, auto-remove)
    is not an error.

    Args:
        client: A ``docker.DockerClient`` connected to the engine.
        everything: remove every sandbox container, live owner or not (``sgr sandbox prune``).

    Returns:
        The ids removed.
    """
    import docker.errors

    host = socket.gethostname()
    removed: list[str] = []
    try:
        # One list call, labels included: no per-container inspect that can race a removal.
        found = client.api.containers(all=True, filters={"label": f"{LABEL}=1"})
    except docker.errors.APIError:
        return removed
    for c in found:
        labels = c.get("Labels") or {}
        if not (everything or orphaned(labels.get(OWNER_LABEL, ""), host)):
            continue
        try:
            client.api.remove_container(c["Id"], force=True)
            removed.append(c["Id"])
        except docker.errors.APIError:
            pass  # gone meanwhile, or already being removed: either way not ours to fail on
    return removed


def pick_runtime(client: Any, wanted: str | None) -> str | None:
    if wanted is None:
        return None
    offered = set((client.info().get("Runtimes") or {}).keys())
    if wanted == "auto":
        return "runsc" if "runsc" in offered else None
    if wanted not in offered:
        raise SandboxUnavailable(
            f"the Docker engine offers no {wanted!r} runtime (it has {sorted(offered)}); "
            "configure it in daemon.json or start the sandbox without runtime="
        )
    return wanted


def death_reason(client: Any, container: Any, *, since: float, memory_mb: int) -> str:
    """Why a container ended, from the engine's event history (it is auto-removed)."""
    if container is None:
        return "container gone"
    try:
        events = client.events(
            since=int(since) - 1,
            until=int(time.time()) + 1,
            filters={"container": container.id},
            decode=True,
        )
        actions = [(e.get("Action"), e.get("Actor", {}).get("Attributes", {})) for e in events]
    except Exception:
        return "unknown reason"
    if any(a == "oom" for a, _ in actions):
        return f"killed at its memory limit of {memory_mb} MB"
    codes = [attrs.get("exitCode") for a, attrs in actions if a == "die"]
    return f"exit code {codes[-1]}" if codes else "unknown reason"
