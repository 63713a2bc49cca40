"""llama-cpp-python's own OpenAI-compatible server (``llama_cpp.server``), run on loopback.

For the server-conformance tests and benchmarks: a real third-party server that the
``openai_compat`` provider must work with, serving a GGUF (by default the embedded SmolLM2).
It needs the server extra: ``pip install 'sgr-jupyter[server]'``.

Example::

    with LlamaServer() as srv:
        settings = LLMSettings(provider="openai_compat", base_url=srv.base_url, model=srv.alias)
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

__all__ = ["LlamaServer", "LlamaServerError"]


class LlamaServerError(RuntimeError):
    """The server did not start; the message carries the tail of its log."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """``python -m llama_cpp.server`` on 127.0.0.1, started and stopped by this object.

    Args:
        model_path: The GGUF to serve; default the embedded SmolLM2-135M-Instruct.
        alias: The model id the server reports (``GET /v1/models``).
        n_ctx: Context window; small keeps memory and prompt time down.
        n_threads: CPU threads; the process also runs at ``nice`` 10.
        start_timeout_s: How long to wait for ``/v1/models`` to answer.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        alias: str = "smollm2-135m",
        n_ctx: int = 4096,
        n_threads: int = 2,
        start_timeout_s: float = 120.0,
    ) -> None:
        if model_path is None:
            from sgr_kernel.llm.local import bundled_model_path

            model_path = bundled_model_path()
        self.model_path = Path(model_path)
        self.alias = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def log_tail(self, n: int = 3000) -> str:
        """The end of the server's log (stdout and stderr)."""
        try:
            return self._log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def start(self) -> LlamaServer:
        """Start the server and wait until it lists its model.

        Raises:
            LlamaServerError: It exited or did not answer in ``start_timeout_s``.
        """
        self.port = _free_port()
        cmd = [
            *(["nice", "-n", "10"] if sys.platform != "win32" else []),
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--verbose",
            "False",
        ]
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise LlamaServerError(
                    f"llama_cpp.server exited with {self._proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + "/models", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        self.stop()
        raise LlamaServerError(
            f"llama_cpp.server did not answer within {self.start_timeout_s:g}s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Terminate the server (kill it after 10 s)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
