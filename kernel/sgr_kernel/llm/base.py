"""The LLM contract: one structured call in, text and usage out (docs/llm.md).

Providers implement :class:`LLMClient`. They never validate against pydantic models
themselves: ``schema_guided.py`` owns schemas, validation and the repair loop, and the
``RunContext`` records every request and response in the trace.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "LLMClient",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "ProbeCall",
    "TokenCallback",
    "Usage",
]

TokenCallback = Callable[[str], None]
"""Receives streamed text fragments as they arrive (for live display only)."""


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class Usage(BaseModel):
    """What a call consumed, for budgets."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = Field(0, ge=0)
    completion_tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )


class ProbeCall(BaseModel):
    """A request a provider sent to learn what its endpoint supports before answering.

    It travels in the :class:`LLMResponse` of the call that needed it, so the trace shows it
    and budgets pay for it (its usage is already included in the response's ``usage``).
    """

    model_config = ConfigDict(frozen=True)

    mode: str = Field(description="The structured-output mode that was tried.")
    verdict: str = Field(description="enforced, refused (…) or ignored (…).")
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0


class LLMRequest(BaseModel):
    """A provider-neutral request. ``json_schema`` asks for structured output."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[Message, ...]
    json_schema: dict[str, Any] | None = Field(None, description="JSON schema of the answer.")
    schema_name: str | None = Field(None, description="Name of the answer's model.")
    model: str | None = Field(None, description="None: the provider's configured model.")
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    seed: int | None = None

    def fingerprint(self) -> str:
        """A stable hash of the request (canonical JSON), for replay matching."""
        canon = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()


class LLMResponse(BaseModel):
    """A provider's answer."""

    model_config = ConfigDict(frozen=True)

    text: str
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    finish_reason: str | None = None
    latency_s: float = 0.0
    probes: tuple[ProbeCall, ...] = Field(
        (), description="Probes sent first to choose the endpoint's structured-output mode."
    )


@runtime_checkable
class LLMClient(Protocol):
    """A model endpoint. ``name`` identifies the provider (and its circuit breaker).

    Errors are raised as ``sgr_kernel.errors.LLMError`` subclasses so that retryability
    follows the error type.
    """

    name: str

    async def complete(
        self, request: LLMRequest, *, on_token: TokenCallback | None = None
    ) -> LLMResponse: ...
