"""The LLM layer: the contract, schema-guided generation, the planner and the providers.

Providers whose SDKs are heavy (``OpenAICompatLLM`` needs ``openai``, ``LocalLLM`` needs
``llama_cpp``) load on first attribute access, so ``import sgr_kernel`` stays cheap; build a
client from settings with :func:`make_client`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sgr_kernel.llm.base import LLMClient, LLMRequest, LLMResponse, Message, TokenCallback, Usage
from sgr_kernel.llm.config import LLMSettings, load_settings, make_client
from sgr_kernel.llm.planner import plan_task
from sgr_kernel.llm.schema_guided import GenerationResult, LLMCall, generate, json_schema_for
from sgr_kernel.llm.scripted import ScriptedLLM

if TYPE_CHECKING:
    from sgr_kernel.llm.local import LocalLLM
    from sgr_kernel.llm.openai_compat import OpenAICompatLLM

__all__ = [
    "GenerationResult",
    "LLMCall",
    "LLMClient",
    "LLMRequest",
    "LLMResponse",
    "LLMSettings",
    "LocalLLM",
    "Message",
    "OpenAICompatLLM",
    "ScriptedLLM",
    "TokenCallback",
    "Usage",
    "generate",
    "json_schema_for",
    "load_settings",
    "make_client",
    "plan_task",
]

_LAZY = {
    "OpenAICompatLLM": "sgr_kernel.llm.openai_compat",
    "LocalLLM": "sgr_kernel.llm.local",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
