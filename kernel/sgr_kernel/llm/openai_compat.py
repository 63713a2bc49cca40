"""Any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp server) via the ``openai`` SDK.

The SDK's own retries are off: retry, backoff and the circuit breaker belong to the
ReliabilityEngine, which decides by the type of the error raised here (``errors.py``).
Structured output: the provider probes each endpoint once for the strongest mode it enforces
(``structured.py``: ``json_schema``, ``json_object`` with a schema, a forced tool call, the
schema in the prompt), caches the choice (``endpoints.py``, shown by ``sgr doctor``) and steps
down when a later call is refused for that mode; ``schema_guided`` validates in every mode.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import openai

from sgr_kernel.errors import (
    ConfigError,
    LLMServerError,
)
from sgr_kernel.llm import endpoints
from sgr_kernel.llm._openai_errors import guarded, map_error, parse_retry_after
from sgr_kernel.llm.base import LLMRequest, LLMResponse, ProbeCall, TokenCallback, Usage
from sgr_kernel.llm.settings import LLMSettings
from sgr_kernel.llm.structured import (
    MODES,
    Mode,
    apply_mode,
    delta_text,
    error_text,
    message_text,
    probe_outcome,
    probe_request,
    refused,
)

__all__ = ["OpenAICompatLLM", "map_error", "parse_retry_after"]

_PLACEHOLDER_KEY = "sk-no-key"  # local servers want some bearer token; a real one comes from config


class OpenAICompatLLM:
    """An :class:`~sgr_kernel.llm.base.LLMClient` for an OpenAI-compatible base URL."""

    name = "openai_compat"

    def __init__(self, settings: LLMSettings) -> None:
        if settings.base_url is not None and not settings.base_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(
                f"base URL {settings.base_url!r} must start with http:// or https:// "
                "(e.g. http://localhost:11434/v1)"
            )
        self.settings = settings
        self.base_url = settings.base_url or "https://api.openai.com/v1"
        self.model: str | None = settings.model
        self.mode: Mode | None = (
            None if settings.structured_output == "auto" else (settings.structured_output)
        )
        self.endpoint: endpoints.EndpointInfo | None = None
        self._checked = False
        self._probing: asyncio.Lock | None = None
        key = settings.api_key.get_secret_value() if settings.api_key else _PLACEHOLDER_KEY
        timeout = openai.Timeout(settings.timeout_s, connect=settings.connect_timeout_s)
        self._client = openai.AsyncOpenAI(
            api_key=key, base_url=self.base_url, timeout=timeout, max_retries=0
        )

    def __repr__(self) -> str:
        return f"OpenAICompatLLM(base_url={self.base_url!r}, model={self.model!r})"

    # ------------------------------------------------------------ configure-time check

    def _check_models(self, ids: list[str]) -> list[str]:
        if self.model is None:
            if len(ids) != 1:
                raise ConfigError(
                    f"{self.base_url}: no model configured and the server offers "
                    f"{len(ids)}: {', '.join(ids[:20]) or 'none'}; set SGR_MODEL"
                )
            self.model = ids[0]
        elif self.model not in ids:
            raise ConfigError(
                f"{self.base_url}: unknown model {self.model!r}; the server offers: "
                f"{', '.join(ids[:20]) or 'none'}"
            )
        return ids

    def _check_error(self, e: Exception) -> ConfigError:
        if isinstance(e, openai.NotFoundError):
            hint = (
                ""
                if self.base_url.rstrip("/").endswith("/v1")
                else (f"; did you mean {self.base_url.rstrip('/')}/v1 ?")
            )
            return ConfigError(f"{self.base_url}: /models not found (404){hint}")
        return ConfigError(f"cannot use the configured endpoint: {map_error(e, self.base_url)}")

    async def acheck(self) -> list[str]:
        """List the server's models, checking the URL, the key and the model.

        Returns:
            The model ids the server offers. With no model configured and exactly one
            offered, that one is adopted.

        Raises:
            ConfigError: Unreachable, not OpenAI-compatible (with a hint when ``/v1`` is
                missing), key refused, or the model is not offered.
        """
        try:
            page = await self._client.models.list()
            ids = [m.id async for m in page]
        except openai.OpenAIError as e:
            raise self._check_error(e) from None
        self._checked = True
        return self._check_models(ids)

    async def _first_check(self) -> None:
        # Checked once, on the first call: a wrong URL or model becomes a ConfigError with a
        # hint instead of a bare 404, while an unreachable server stays a retryable error.
        try:
            page = await self._client.models.list()
            ids = [m.id async for m in page]
        except openai.NotFoundError as e:
            if not self.base_url.rstrip("/").endswith("/v1"):
                raise self._check_error(e) from None
            if self.model is None:
                raise ConfigError(
                    f"{self.base_url}: no /models to pick from; set SGR_MODEL"
                ) from None
            self._checked = True  # a server without /models: nothing more to check
            return
        except (openai.OpenAIError, json.JSONDecodeError) as e:
            raise map_error(e, self.base_url) from None
        self._check_models(ids)
        self._checked = True

    def check(self) -> list[str]:
        """Synchronous twin of :meth:`acheck` (its own short-lived HTTP client)."""
        key = self._client.api_key
        with openai.OpenAI(
            api_key=key, base_url=self.base_url, timeout=self._client.timeout, max_retries=0
        ) as client:
            try:
                ids = [m.id for m in client.models.list()]
            except openai.OpenAIError as e:
                raise self._check_error(e) from None
        self._checked = True
        return self._check_models(ids)

    # ------------------------------------------------------------ structured-output mode

    @property
    def json_schema_supported(self) -> bool:
        """False once the endpoint is known not to enforce ``json_schema``."""
        return self.mode in (None, "json_schema")

    async def structured_mode(self, probes: list[ProbeCall] | None = None) -> Mode:
        """The structured-output mode for this endpoint: configured, cached, or probed now.

        Each probe sent is appended to ``probes`` (the caller traces and budgets them). Calls
        that start together wait for one probe instead of each sending their own.

        Raises:
            LLMError: The probe could not reach a verdict (unreachable, rate limited, a
                server error unrelated to structured output); nothing is cached then.
        """
        if self.mode is not None:
            return self.mode
        if not self._checked:
            await self._first_check()
        model = self.model
        assert model is not None
        if self._probing is None:
            self._probing = asyncio.Lock()
        async with self._probing:
            if self.mode is not None:  # a call that started with this one probed meanwhile
                return self.mode
            cached = endpoints.load(self.base_url, model)
            if cached is not None:
                self.endpoint, self.mode = cached, cached.mode
                return cached.mode
            tried: dict[str, str] = {}
            chosen: Mode = "prompt"
            for mode in MODES[:-1]:
                probe = await self._probe(mode, model)
                if probes is not None:
                    probes.append(probe)
                tried[mode] = probe.verdict
                if probe.verdict == "enforced":
                    chosen = mode
                    break
            self._remember(chosen, tried)
            return chosen

    def _remember(self, mode: Mode, tried: dict[str, str]) -> None:
        assert self.model is not None
        self.mode = mode
        self.endpoint = endpoints.EndpointInfo(
            base_url=self.base_url, model=self.model, mode=mode, tried=tried
        )
        endpoints.save(self.endpoint)

    async def _probe(self, mode: Mode, model: str) -> ProbeCall:
        started = time.perf_counter()

        def call(verdict: str, usage: Usage | None = None) -> ProbeCall:
            latency = time.perf_counter() - started
            used = usage or Usage()
            return ProbeCall(mode=mode, verdict=verdict, usage=used, latency_s=latency)

        try:
            resp = await self._client.chat.completions.create(**probe_request(mode, model))
        except openai.APIStatusError as e:
            if refused(e):
                return call(f"refused ({e.status_code}: {error_text(e)[:160]})")
            raise map_error(e, self.base_url) from None
        except (openai.OpenAIError, json.JSONDecodeError) as e:
            raise map_error(e, self.base_url) from None
        usage = self._usage(getattr(resp, "model", None) or model, getattr(resp, "usage", None))
        if not getattr(resp, "choices", None):
            return call("ignored (no choices)", usage)
        text = message_text(resp.choices[0].message, mode)
        verdict = "enforced" if probe_outcome(text) else f"ignored (answered {text[:60]!r})"
        return call(verdict, usage)

    def _step_down(self, mode: Mode, e: openai.APIStatusError) -> Mode:
        tried = dict(self.endpoint.tried) if self.endpoint else {}
        tried[mode] = f"refused ({e.status_code}: {error_text(e)[:160]})"
        lower = MODES[MODES.index(mode) + 1]
        self._remember(lower, tried)
        return lower

    # ------------------------------------------------------------ calls

    def _params(self, request: LLMRequest, model: str, mode: Mode | None) -> dict[str, Any]:
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        params: dict[str, Any] = {"model": model, "temperature": request.temperature}
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        if request.seed is not None:
            params["seed"] = request.seed
        if request.json_schema is not None and mode is not None:
            name = request.schema_name or "answer"
            messages, extra = apply_mode(mode, messages, request.json_schema, name)
            params.update(extra)
        params["messages"] = messages
        return params

    async def complete(
        self, request: LLMRequest, *, on_token: TokenCallback | None = None
    ) -> LLMResponse:
        """One chat completion; streamed to ``on_token`` when given.

        A structured request uses the endpoint's mode (probed on first use); a refusal that
        names the mode steps down to the next one and asks again.

        Raises:
            LLMRateLimited: HTTP 429 (``retry_after_s`` from ``Retry-After``).
            LLMAuthError: HTTP 401/403.
            LLMTimeout: No answer within ``timeout_s``.
            LLMServerError: HTTP 5xx, a malformed body, or a stream cut short.
            LLMConnectionError: The server cannot be reached.
            LLMError: Any other refusal (not retryable).
        """
        if not self._checked:
            await self._first_check()
        model = request.model or self.model
        assert model is not None
        probes: list[ProbeCall] = []
        mode = await self.structured_mode(probes) if request.json_schema is not None else None
        started = time.perf_counter()
        try:
            while True:
                try:
                    text, usage, finish, served = await self._call(request, model, mode, on_token)
                    break
                except openai.APIStatusError as e:
                    if mode is None or mode == "prompt" or not refused(e):
                        raise
                    mode = self._step_down(mode, e)
        except (openai.OpenAIError, json.JSONDecodeError) as e:
            # The SDK lets a 200 with a non-JSON body through as a raw JSONDecodeError.
            raise map_error(e, self.base_url) from None
        for probe in probes:
            usage += probe.usage
        return LLMResponse(
            text=text,
            usage=usage,
            probes=tuple(probes),
            model=served,
            finish_reason=finish,
            latency_s=time.perf_counter() - started,
        )

    def _usage(self, model: str, usage: Any) -> Usage:
        if usage is None:
            return Usage()
        p, c = int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)
        return Usage(
            prompt_tokens=p, completion_tokens=c, cost_usd=self.settings.cost_usd(model, p, c)
        )

    async def _call(
        self, request: LLMRequest, model: str, mode: Mode | None, on_token: TokenCallback | None
    ) -> tuple[str, Usage, str | None, str]:
        params = self._params(request, model, mode)
        if on_token is None or mode == "tool_call":
            # Streamed tool calls are where servers differ most (llama-cpp-python's server
            # drops the connection): a forced tool call is asked whole and shown in one piece.
            resp = await self._client.chat.completions.create(**params)
            if not getattr(resp, "choices", None):
                raise LLMServerError(f"{self.base_url}: a completion without choices")
            choice = resp.choices[0]
            served = resp.model or model
            text = message_text(choice.message, mode)
            if on_token is not None and text:
                on_token(text)
            return text, self._usage(served, resp.usage), choice.finish_reason, served
        stream = await self._client.chat.completions.create(
            **params, stream=True, stream_options={"include_usage": True}
        )
        parts: list[str] = []
        finish: str | None = None
        usage: Any = None
        served = model
        async for chunk in guarded(stream, self.base_url):
            served = chunk.model or served
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                piece = delta_text(choice.delta, mode)
                if piece:
                    parts.append(piece)
                    on_token(piece)
                finish = choice.finish_reason or finish
        if finish is None:
            raise LLMServerError(
                f"{self.base_url}: the stream ended before the model finished "
                f"({len(''.join(parts))} characters received)"
            )
        return "".join(parts), self._usage(served, usage), finish, served

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()
