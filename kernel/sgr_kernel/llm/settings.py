"""The LLM settings value: which model to talk to and how (loaded by ``sgr_kernel.llm.config``).

A leaf of the ``llm`` package: providers import their settings from here, and
``config.make_client`` imports the providers, so nothing in ``llm`` imports in a circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from sgr_kernel._home import default_root

__all__ = ["DEFAULT_PRICING", "LLMSettings", "Provider", "StructuredOutput", "config_path"]

Provider = Literal["local", "openai_compat", "scripted"]
StructuredOutput = Literal["auto", "json_schema", "json_object_schema", "tool_call", "prompt"]

DEFAULT_PRICING: dict[str, tuple[float, float]] = {
    # USD per million (prompt, completion) tokens. Prices change: override them with
    # `[tool.sgr.pricing]` or `[pricing]` in config.toml. An unknown model costs 0.
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
}


class LLMSettings(BaseModel):
    """Which model to talk to and how. The API key is a ``SecretStr``: never in reprs or dumps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Provider = Field("local", description="local | openai_compat | scripted.")
    model: str | None = Field(
        None, description="Model name; for `local` also a path to a .gguf file."
    )
    base_url: str | None = Field(None, description="OpenAI-compatible base URL, with /v1.")
    api_key: SecretStr | None = Field(None, description="Bearer key; never logged or traced.")
    scripted_path: str | None = Field(None, description="JSONL replies for `scripted:PATH`.")
    timeout_s: float = Field(60.0, gt=0, description="Deadline of one HTTP request.")
    connect_timeout_s: float = Field(10.0, gt=0, description="Deadline to connect.")
    structured_output: StructuredOutput = Field(
        "auto",
        description="openai_compat: auto (probe the endpoint once) or a fixed mode: "
        "json_schema | json_object_schema | tool_call | prompt.",
    )
    pricing: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: dict(DEFAULT_PRICING),
        description="USD per million (prompt, completion) tokens, by model name.",
    )
    sources: dict[str, str] = Field(
        default_factory=dict, description="Where each set field came from (for `sgr doctor`)."
    )

    def cost_usd(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """Cost of one call from the pricing table (0 for a model not in it)."""
        price = self.pricing.get(model)
        if price is None:
            # Dated snapshots ("gpt-4o-mini-2024-07-18") are priced as their family.
            family = [k for k in self.pricing if model.startswith(k + "-")]
            price = self.pricing[max(family, key=len)] if family else None
        if price is None:
            return 0.0
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$SGR_HOME/config.toml``, or ``~/.sgr/config.toml`` when ``SGR_HOME`` is unset."""
    return default_root(env=env) / "config.toml"
