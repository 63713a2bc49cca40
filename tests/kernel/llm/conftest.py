"""Shared fixtures of the LLM tests: an isolated ``SGR_HOME``, one real llama.cpp server."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sgr_kernel.testing.llama_server import LlamaServer


@pytest.fixture(autouse=True)
def sgr_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own ``SGR_HOME``: the endpoint cache never leaks between tests."""
    home = tmp_path / "sgr-home"
    monkeypatch.setenv("SGR_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """llama-cpp-python's own OpenAI-compatible server with the embedded GGUF, one per session.

    Needs the ``local`` and ``server`` extras (``make test`` installs them); their absence is a
    failure under ``CI=true`` and a skip otherwise, like the local model's tests.
    """
    missing = [
        m
        for m in ("llama_cpp", "fastapi", "uvicorn", "sse_starlette")
        if not importlib.util.find_spec(m)
    ]
    if missing:
        message = (
            f"the server-conformance tests need {missing}: "
            "scripts/install-local-model.sh .venv (or pip install 'sgr-jupyter[server]')"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with LlamaServer(n_ctx=4096, n_threads=2) as srv:
        yield srv
