"""Build the ``sgr-sandbox`` image with no container registry (docs/sandbox.md).

Debian packages are fetched with ``apt-get download`` and unpacked with ``dpkg -x`` into a
``FROM scratch`` context; pinned wheels are added with ``pip install --only-binary=:all:
--target``. Downloads are cached under ``~/.cache/sgr/sandbox`` so rebuilds are fast. The tag
is a hash of the recipe, so a build is a no-op until the recipe changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sgr_kernel.errors import SandboxUnavailable
from sgr_kernel.sandbox import image as recipe

__all__ = ["IMAGE_REPO", "build", "cache_dir", "recipe_version"]

IMAGE_REPO = "sgr-sandbox"
SANDBOX_UID = 65534
RECIPE_LABEL = "sgr.sandbox.recipe"

# The Dockerfile is part of the recipe (it is hashed). Every RUN uses the exec form: the image
# has no shell. The stdlib and wheels are byte-compiled inside the image, by its own
# interpreter, because the root filesystem is read-only at run time (no .pyc caching then).
DOCKERFILE = """\
FROM scratch
COPY root/ /
ENV PATH=/usr/bin LANG=C.UTF-8 HOME=/tmp PYTHONDONTWRITEBYTECODE=1 \\
    MPLBACKEND=Agg MPLCONFIGDIR=/tmp/.mpl
RUN ["/usr/bin/python3.11", "-m", "compileall", "-q", "-j0", "/usr/lib/python3.11"]
COPY site/ /usr/lib/python3/dist-packages/
RUN ["/usr/bin/python3.11", "-m", "compileall", "-q", "-j0", "/usr/lib/python3/dist-packages"]
RUN ["/usr/bin/python3.11", "-c", "import os; os.environ['MPLCONFIGDIR'] = '/opt/sgr/mpl'; \
import matplotlib.pyplot"]
COPY runner.py /opt/sgr/runner.py
LABEL {label}="{version}"
USER {uid}:{uid}
WORKDIR /workspace
"""

_PRUNE = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/locale",
    "usr/share/lintian",
    "usr/share/i18n",
    "usr/share/info",
    "usr/lib/x86_64-linux-gnu/gconv",
    "usr/lib/python3.11/test",
    "usr/lib/python3.11/idlelib",
    "usr/lib/python3.11/tkinter",
    "usr/lib/python3.11/ensurepip",
    "usr/lib/python3.11/lib2to3",
)


def cache_dir() -> Path:
    """Where downloads are cached (``$SGR_CACHE`` or ``~/.cache/sgr``)."""
    root = os.environ.get("SGR_CACHE") or os.path.join(Path.home(), ".cache", "sgr")
    return Path(root) / "sandbox"


def _lines(path: Path) -> list[str]:
    out = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def recipe_version(extra_wheels: Sequence[Path] = ()) -> str:
    """A short hash of everything that goes into the image: the image tag."""
    h = hashlib.sha256()
    for part in (recipe.DEBS, recipe.REQUIREMENTS, recipe.RUNNER):
        h.update(part.name.encode() + b"\0" + part.read_bytes() + b"\0")
    h.update(DOCKERFILE.encode())
    for wheel in sorted(Path(w) for w in extra_wheels):
        h.update(b"wheel\0" + _sha256_file(wheel).encode())
    return h.hexdigest()[:12]


def _run(cmd: list[str], *, cwd: Path | None = None) -> None:
    # Argument lists, never a shell string.
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SandboxUnavailable(
            f"image build step failed ({' '.join(cmd[:3])} …, exit {proc.returncode}):\n"
            f"{proc.stderr[-2000:]}"
        )


def _fetch_debs(packages: list[str]) -> list[Path]:
    """The .deb files for ``packages``, downloaded once into the cache."""
    key = hashlib.sha256("\n".join(packages).encode()).hexdigest()[:12]
    where = cache_dir() / "debs" / key
    done = where / ".complete"
    if not done.exists():
        if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
            raise SandboxUnavailable(
                "building the sandbox image needs a Debian host (apt-get and dpkg)"
            )
        where.mkdir(parents=True, exist_ok=True)
        cmd = ["apt-get", "download", "-q", *packages]
        proc = subprocess.run(cmd, cwd=where, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            # Package lists may be missing or stale on a fresh machine: update once, retry.
            _run(["apt-get", "update", "-qq"])
            _run(cmd, cwd=where)
        done.write_text("\n".join(packages))
    return sorted(where.glob("*.deb"))


def _install_wheels(site: Path, extra_wheels: Sequence[Path]) -> None:
    """pip-install the pinned wheels (and extra ones) into ``site``, from the cache if possible."""
    wheels = cache_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    for w in extra_wheels:
        shutil.copy2(w, wheels / Path(w).name)
    target = [
        "--only-binary=:all:",
        # pip does not widen a custom --platform to older glibc tags: list them (image: 2.36).
        *(f"--platform=manylinux_2_{minor}_x86_64" for minor in range(17, 37)),
        "--platform=manylinux2014_x86_64",
        "--python-version=3.11",
        "--implementation=cp",
        "--abi=cp311",
    ]
    reqs = ["-r", str(recipe.REQUIREMENTS), *(str(wheels / Path(w).name) for w in extra_wheels)]
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    install = [*pip, "install", "--no-compile", "--target", str(site), *target]
    offline = subprocess.run(
        [*install, "--no-index", "--find-links", str(wheels), *reqs],
        capture_output=True,
        text=True,
        check=False,
    )
    if offline.returncode == 0:
        return
    _run([*pip, "download", "-d", str(wheels), *target, *reqs])
    shutil.rmtree(site, ignore_errors=True)
    _run([*install, "--no-index", "--find-links", str(wheels), *reqs])


def _assemble(ctx: Path, version: str, extra_wheels: Sequence[Path]) -> None:
    root = ctx / "root"
    root.mkdir()
    for deb in _fetch_debs(_lines(recipe.DEBS)):
        _run(["dpkg", "-x", str(deb), str(root)])
    for rel in _PRUNE:
        shutil.rmtree(root / rel, ignore_errors=True)
    (root / "usr/bin/python3").unlink(missing_ok=True)
    (root / "usr/bin/python3").symlink_to("python3.11")
    (root / "etc").mkdir(exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (root / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")
    site = ctx / "site"
    site.mkdir()
    _install_wheels(site, extra_wheels)
    shutil.copy2(recipe.RUNNER, ctx / "runner.py")
    dockerfile = DOCKERFILE.format(label=RECIPE_LABEL, version=version, uid=SANDBOX_UID)
    (ctx / "Dockerfile").write_text(dockerfile)


def build(
    client: Any, *, extra_wheels: Sequence[Path] = (), force: bool = False
) -> tuple[str, bool, float]:
    """Build the image if its tag is absent. Returns (tag, built, seconds)."""
    import docker.errors

    version = recipe_version(extra_wheels)
    tag = f"{IMAGE_REPO}:{version}"
    if not force:
        try:
            client.images.get(tag)
            return tag, False, 0.0
        except docker.errors.ImageNotFound:
            pass
    t0 = time.perf_counter()
    work = cache_dir()
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ctx-", dir=work) as tmp:
        ctx = Path(tmp)
        _assemble(ctx, version, extra_wheels)
        try:
            client.images.build(path=str(ctx), tag=tag, rm=True, forcerm=True, pull=False)
        except docker.errors.BuildError as e:
            log = "".join(str(c.get("stream", c.get("error", ""))) for c in e.build_log)
            raise SandboxUnavailable(f"docker build of {tag} failed: {e}\n{log[-2000:]}") from e
    client.images.get(tag).tag(IMAGE_REPO, "latest")
    return tag, True, time.perf_counter() - t0
