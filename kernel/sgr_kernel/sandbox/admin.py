"""Administration of the sandbox: build the image, report status, prune, diagnose.

Plain functions returning pydantic values; ``sgr sandbox build|status|prune`` and ``sgr doctor``
call them and print the values. None of them runs user code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.errors import SandboxUnavailable
from sgr_kernel.sandbox import _build
from sgr_kernel.sandbox._client import connect, default_image, reap_orphans
from sgr_kernel.sandbox._profile import LABEL, OWNER_LABEL, RUN_LABEL
from sgr_kernel.sandbox.base import SandboxLimits

__all__ = [
    "BuildInfo",
    "ContainerInfo",
    "DoctorReport",
    "PruneReport",
    "SandboxStatus",
    "build_image",
    "doctor",
    "prune",
    "sandbox_status",
]


class BuildInfo(BaseModel):
    """What ``build_image`` did."""

    model_config = ConfigDict(frozen=True)

    image: str = Field(description="The tag built or found, sgr-sandbox:<recipe hash>.")
    version: str = Field(description="The recipe hash.")
    built: bool = Field(description="False: the image was already there (nothing to do).")
    seconds: float = Field(0.0, description="Build wall time.")
    size_bytes: int = 0


class ContainerInfo(BaseModel):
    """A live sandbox container."""

    model_config = ConfigDict(frozen=True)

    id: str
    run_id: str
    owner: str
    status: str


class SandboxStatus(BaseModel):
    """The engine, the image and the sandbox containers as they are now."""

    model_config = ConfigDict(frozen=True)

    engine: bool
    engine_version: str | None = None
    api_version: str | None = None
    engine_error: str | None = None
    image: str
    image_present: bool = False
    image_size_bytes: int | None = None
    runtimes: tuple[str, ...] = ()
    gvisor: bool = False
    containers: tuple[ContainerInfo, ...] = ()


class PruneReport(BaseModel):
    """What ``prune`` removed."""

    model_config = ConfigDict(frozen=True)

    containers: tuple[str, ...] = ()
    images: tuple[str, ...] = ()


class DoctorReport(BaseModel):
    """Whether sandboxed code can run here, and how to fix it when not."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    status: SandboxStatus
    limits: SandboxLimits
    problems: tuple[str, ...] = ()


def build_image(extra_wheels: Sequence[Path] = (), force: bool = False) -> BuildInfo:
    """Build ``sgr-sandbox:<recipe hash>`` with no registry; a no-op when it exists.

    Args:
        extra_wheels: more wheel files to install into the image (they change its tag).
        force: rebuild even when the tag exists.

    Raises:
        SandboxUnavailable: no engine answers, or a build step failed.
    """
    client = connect()
    wheels = [Path(w).resolve() for w in extra_wheels]
    tag, built, seconds = _build.build(client, extra_wheels=wheels, force=force)
    size = int(client.images.get(tag).attrs.get("Size") or 0)
    version = tag.rsplit(":", 1)[1]
    return BuildInfo(image=tag, version=version, built=built, seconds=seconds, size_bytes=size)


def sandbox_status(image: str | None = None) -> SandboxStatus:
    """Engine, image and live sandbox containers; never raises for a missing engine."""
    image = image or default_image()
    try:
        client = connect(timeout=10)
    except SandboxUnavailable as e:
        return SandboxStatus(engine=False, engine_error=str(e), image=image)
    import docker.errors

    version = client.version()
    runtimes = tuple(sorted((client.info().get("Runtimes") or {}).keys()))
    try:
        size: int | None = int(client.images.get(image).attrs.get("Size") or 0)
    except docker.errors.ImageNotFound:
        size = None
    containers = tuple(
        ContainerInfo(
            id=c.short_id,
            run_id=c.labels.get(RUN_LABEL, ""),
            owner=c.labels.get(OWNER_LABEL, ""),
            status=c.status,
        )
        for c in client.containers.list(all=True, filters={"label": f"{LABEL}=1"})
    )
    return SandboxStatus(
        engine=True,
        engine_version=version.get("Version"),
        api_version=client.api.api_version,
        image=image,
        image_present=size is not None,
        image_size_bytes=size,
        runtimes=runtimes,
        gvisor="runsc" in runtimes,
        containers=containers,
    )


def prune(*, images: bool = False, everything: bool = False) -> PruneReport:
    """Remove orphaned sandbox containers (of dead kernels) and, optionally, old images.

    Args:
        images: also remove ``sgr-sandbox`` images other than the current recipe's.
        everything: remove every sandbox container, even of a live kernel.
    """
    client = connect()
    removed = reap_orphans(client, everything=everything)
    gone: list[str] = []
    if images:
        keep = default_image()
        for img in client.images.list(name=_build.IMAGE_REPO):
            tags = set(img.tags)
            if keep in tags:
                continue
            for tag in sorted(tags):
                client.images.remove(tag, noprune=False)
                gone.append(tag)
    return PruneReport(containers=tuple(removed), images=tuple(gone))


def doctor(limits: SandboxLimits | None = None) -> DoctorReport:
    """Check that sandboxed code can run: engine, image, runtime; say how to fix what is not."""
    status = sandbox_status()
    problems = []
    if not status.engine:
        problems.append(status.engine_error or "no Docker engine")
    elif not status.image_present:
        problems.append(
            f"the sandbox image {status.image} is missing: run `sgr sandbox build` "
            "(or `python -m sgr_kernel.sandbox build`)"
        )
    return DoctorReport(
        ok=not problems,
        status=status,
        limits=limits or SandboxLimits(),
        problems=tuple(problems),
    )
