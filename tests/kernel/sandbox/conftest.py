"""Docker fixtures for the sandbox tests.

A missing engine or image skips the docker-marked tests locally and FAILS them under
``CI=true`` (docs/architecture.md): CI must really run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sgr_kernel.errors import SandboxUnavailable


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the Docker sandbox is unusable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Any:
    from sgr_kernel.sandbox._client import connect, default_image, require_image

    try:
        client = connect(timeout=30)
        require_image(client, default_image())
    except SandboxUnavailable as e:
        _missing(str(e))
    return client


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    ws = tmp_path / "workspace"
    ws.mkdir()
    yield ws


class DictStore:
    """The artifact half of a TraceStore, in a dict (enough for the sandbox)."""

    def __init__(self) -> None:
        self.blobs: dict[tuple[str, str], bytes] = {}

    def put_artifact(
        self, run_id: str, data: bytes, *, name: str, media_type: str = "application/octet-stream"
    ) -> Any:
        import hashlib

        from sgr_kernel.trace.base import ArtifactRef

        digest = hashlib.sha256(data).hexdigest()
        self.blobs[(run_id, digest)] = data
        return ArtifactRef(sha256=digest, size=len(data), name=name, media_type=media_type)

    def get_artifact(self, run_id: str, sha256: str) -> bytes:
        return self.blobs[(run_id, sha256)]


@pytest.fixture
def store() -> DictStore:
    return DictStore()
