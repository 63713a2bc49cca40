"""How an OpenAI-compatible endpoint's failures become the kernel's errors: the SDK's
exceptions by type and status, ``Retry-After`` headers, and a stream that breaks mid-way."""

from __future__ import annotations

import email.utils
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import openai

from sgr_kernel.errors import (
    LLMAuthError,
    LLMConnectionError,
    LLMError,
    LLMRateLimited,
    LLMServerError,
    LLMTimeout,
)

__all__ = ["guarded", "map_error", "parse_retry_after"]


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def map_error(e: Exception, base_url: str) -> LLMError:
    """Translate an ``openai`` SDK exception into the kernel's failure taxonomy."""
    if isinstance(e, openai.APITimeoutError):
        return LLMTimeout(f"{base_url}: no answer in time ({e})")
    if isinstance(e, openai.APIConnectionError):
        return LLMConnectionError(f"{base_url}: cannot connect ({e.__cause__ or e})")
    if isinstance(e, openai.RateLimitError):
        wait = parse_retry_after(e.response.headers)
        hint = f"; retry after {wait:g}s" if wait is not None else ""
        return LLMRateLimited(f"{base_url}: rate limited: {e.message}{hint}", retry_after_s=wait)
    if isinstance(e, openai.AuthenticationError | openai.PermissionDeniedError):
        return LLMAuthError(
            f"{base_url}: the key was refused ({e.status_code}); check SGR_API_KEY "
            "or api_key in the config file"
        )
    if isinstance(e, openai.APIStatusError):
        if e.status_code >= 500:
            return LLMServerError(f"{base_url}: server error {e.status_code}: {e.message}")
        if e.status_code == 404:
            return LLMError(f"{base_url}: not found (404): {e.message}; check SGR_MODEL")
        return LLMError(f"{base_url}: request refused ({e.status_code}): {e.message}")
    if isinstance(e, openai.APIResponseValidationError | json.JSONDecodeError):
        return LLMServerError(f"{base_url}: the answer is not a valid completion: {e}")
    return LLMError(f"{base_url}: {type(e).__name__}: {e}")


async def guarded(stream: Any, base_url: str) -> AsyncIterator[Any]:
    """Iterate a stream; a connection dropped mid-stream (it surfaces from the HTTP layer,
    not as an SDK error) becomes ``LLMConnectionError``; the stream is closed either way."""
    # A connection dropped mid-stream surfaces from the HTTP layer, not as an SDK error.
    iterator = stream.__aiter__()
    try:
        while True:
            try:
                chunk = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except openai.OpenAIError:
                raise
            except Exception as e:
                raise LLMConnectionError(f"{base_url}: the stream broke: {e}") from None
            yield chunk
    finally:
        await stream.close()
