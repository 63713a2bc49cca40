"""The Dask worker image: the locally built sandbox image plus Dask and ``sgr_kernel``.

No registry is involved: the base is the ``sgr-sandbox`` image built on this host, the wheels
are installed into a folder on the host (binary only, for the image's CPython 3.11) and copied
in. Versions are pinned to what the notebook side runs, so client and workers match. The tag
names the content (pins, the kernel's source, the base image's id), so a build is skipped when
nothing changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

__all__ = ["WORKER_REPO", "build_worker_image", "worker_pins"]

WORKER_REPO = "sgr-dask-worker"
_DOCKERFILE = """\
FROM {base}
COPY site/ /opt/sgr/site/
ENV PYTHONPATH=/opt/sgr/site HOME=/tmp
ENTRYPOINT ["/usr/bin/python3.11"]
"""


def worker_pins() -> list[str]:
    """The wheels a worker needs beyond the sandbox image, at this side's versions."""
    same = ("cloudpickle", "msgpack", "toolz", "tornado", "pydantic", "pyyaml")
    return [f"dask[distributed]=={version('distributed')}"] + [f"{p}=={version(p)}" for p in same]


def _kernel_source() -> Path:
    # This file's package folder's parent, not `import sgr_kernel`: that import would run
    # the whole kernel (engine, replay) from a backend, an import back up the floors.
    return Path(__file__).resolve().parent.parent


def _digest(base_id: str, pins: list[str], src: Path) -> str:
    h = hashlib.sha256(base_id.encode())
    h.update("\n".join(pins).encode())
    for p in sorted(src.rglob("*.py")):
        h.update(p.relative_to(src).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def build_worker_image(client: Any, *, base: str = "sgr-sandbox:latest") -> str:
    """Build (or find) the worker image; returns its tag.

    ``client`` is a ``docker.DockerClient``. Raises ``RuntimeError`` naming what failed.
    """
    base_id = client.images.get(base).id
    pins = worker_pins()
    src = _kernel_source()
    tag = f"{WORKER_REPO}:{_digest(base_id, pins, src)}"
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
            "--platform", "manylinux2014_x86_64", "--python-version", "3.11",
            "--implementation", "cp", *pins,
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"installing the worker's wheels failed: {proc.stderr[-2000:]}")
        shutil.rmtree(ctx / "site" / "bin", ignore_errors=True)
        shutil.copytree(
            src, ctx / "site" / "sgr_kernel", ignore=shutil.ignore_patterns("__pycache__")
        )
        (ctx / "Dockerfile").write_text(_DOCKERFILE.format(base=base_id))
        client.images.build(path=str(ctx), tag=tag, rm=True, labels={"org.sgr.role": "worker"})
    for old in client.images.list(name=WORKER_REPO):  # earlier builds of the recipe
        for t in old.tags:
            if t != tag:
                with contextlib.suppress(Exception):  # still used by a container: kept
                    client.images.remove(t)
    return tag
