"""The Dask worker image: the locally built sandbox image plus Dask and ``sgr_kernel`` — and,
when the caller passes the skills' source, ``sgr_skills`` with the heavy skills' wheels.

No registry is involved: the base is the ``sgr-sandbox`` image built on this host, the wheels
are installed into a folder on the host (binary only, for the image's CPython 3.11) and copied
in. Versions are pinned to what the notebook side runs, so client and workers match. The tag
names the content (pins, the sources, the base image's id), so a build is skipped when
nothing changed. The plain and the skills image live under two repositories, so building one
never removes the other.

The kernel does not import ``sgr_skills`` (imports go one way): a caller that wants the skills
in the image names their source folder, e.g. ``Path(sgr_skills.__file__).parent``.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["SKILLS_REPO", "WORKER_REPO", "build_worker_image", "heavy_pins", "worker_pins"]

WORKER_REPO = "sgr-dask-worker"
SKILLS_REPO = "sgr-dask-worker-skills"
PRUNE_AFTER_S = 3600.0
"""Earlier builds of an image are removed once they are this old (see :func:`_prune`)."""
_DOCKERFILE = """\
FROM {base}
COPY site/ /opt/sgr/site/
ENV PYTHONPATH=/opt/sgr/site HOME=/tmp
ENTRYPOINT ["/usr/bin/python3.11"]
"""
_SKILLS_DOCKERFILE = _DOCKERFILE.replace(
    "HOME=/tmp", "HOME=/tmp MPLBACKEND=Agg MPLCONFIGDIR=/tmp/matplotlib"
)
_HEAVY = ("numpy", "pandas", "pyarrow", "matplotlib", "pillow", "imageio-ffmpeg")
"""The ``heavy`` extra's wheels, which ``backtest_sweep`` (CSV/Parquet prices) and
``video_render`` (imageio-ffmpeg's wheel carries a static ffmpeg) need on a worker."""


def worker_pins() -> list[str]:
    """The wheels a worker needs beyond the sandbox image, at this side's versions."""
    same = ("cloudpickle", "msgpack", "toolz", "tornado", "pydantic", "pyyaml")
    return [f"dask[distributed]=={version('distributed')}"] + [f"{p}=={version(p)}" for p in same]


def heavy_pins() -> list[str]:
    """The heavy skills' wheels at this side's versions; ``RuntimeError`` naming the install
    when this side lacks them (the image must match what the kernel was tested with)."""
    pins = []
    for name in _HEAVY:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            raise RuntimeError(
                f"{name} is not installed here, so the skills image cannot pin it: "
                "pip install 'sgr-jupyter[heavy]' first"
            ) from None
    return pins


def _kernel_source() -> Path:
    # This file's package folder's parent, not `import sgr_kernel`: that import would run
    # the whole kernel (engine, replay) from a backend, an import back up the floors.
    return Path(__file__).resolve().parent.parent


def _digest(base_id: str, pins: list[str], src: Path, skills: Path | None) -> str:
    h = hashlib.sha256(base_id.encode())
    h.update("\n".join(pins).encode())
    for p in sorted(src.rglob("*.py")):
        h.update(p.relative_to(src).as_posix().encode())
        h.update(p.read_bytes())
    if skills is not None:  # (the plain image's tag stays what it was before skills existed)
        h.update(_SKILLS_DOCKERFILE.encode())
        for p in sorted(skills.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(b"skills/" + p.relative_to(skills).as_posix().encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:12]


def build_worker_image(
    client: Any, *, base: str = "sgr-sandbox:latest", skills: Path | None = None
) -> str:
    """Build (or find) the worker image; returns its tag.

    Args:
        client: A ``docker.DockerClient``.
        base: The sandbox image to start from (built on this host).
        skills: The ``sgr_skills`` package folder; given, the image also carries it and the
            heavy skills' wheels (:func:`heavy_pins`), under :data:`SKILLS_REPO`.

    Raises:
        RuntimeError: naming what failed (the wheels' install, a missing extra, a bad path).
    """
    pins = worker_pins()
    src = _kernel_source()
    sources = [src]
    repo, dockerfile = WORKER_REPO, _DOCKERFILE
    if skills is not None:  # checked before Docker is asked anything
        skills = Path(skills).resolve()
        if not (skills / "__init__.py").is_file() or skills.name != "sgr_skills":
            raise RuntimeError(
                f"{skills} is not the sgr_skills package folder (pass "
                "Path(sgr_skills.__file__).parent)"
            )
        pins += heavy_pins()
        sources.append(skills)
        repo, dockerfile = SKILLS_REPO, _SKILLS_DOCKERFILE
    base_id = client.images.get(base).id
    tag = f"{repo}:{_digest(base_id, pins, src, skills)}"
    try:
        client.images.get(tag)
        return tag
    except Exception:  # docker.errors.ImageNotFound: build it
        pass
    with tempfile.TemporaryDirectory(prefix="sgr-worker-image-") as tmp:
        ctx = Path(tmp)
        cmd = [
            sys.executable, "-m", "pip", "install", "-q", "--target", str(ctx / "site"),
            "--only-binary=:all:", "--platform", "manylinux_2_17_x86_64",
            "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
            "--python-version", "3.11", "--implementation", "cp", *pins,
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"installing the worker's wheels failed: {proc.stderr[-2000:]}")
        shutil.rmtree(ctx / "site" / "bin", ignore_errors=True)
        for folder in sources:
            shutil.copytree(
                folder, ctx / "site" / folder.name, ignore=shutil.ignore_patterns("__pycache__")
            )
        (ctx / "Dockerfile").write_text(dockerfile.format(base=base_id))
        client.images.build(path=str(ctx), tag=tag, rm=True, labels={"org.sgr.role": "worker"})
    _prune(client, repo, keep=tag)
    return tag


def _prune(client: Any, repo: str, *, keep: str) -> None:
    """Remove earlier builds of the recipe — only those over an hour old: another checkout
    of a different version on this host may have built one a moment ago and be about to start
    containers from it."""
    now = time.time()
    for old in client.images.list(name=repo):
        created = str(old.attrs.get("Created", ""))[:19]
        try:
            age = (
                now
                - datetime.strptime(created, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
            )
        except ValueError:
            continue  # unreadable: keep it
        for t in old.tags:
            if t.startswith(repo + ":") and t != keep and age > PRUNE_AFTER_S:
                with contextlib.suppress(Exception):  # still used by a container: kept
                    client.images.remove(t)
