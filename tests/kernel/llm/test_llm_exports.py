"""The public surface of ``sgr_kernel.llm`` is pinned."""

from __future__ import annotations

import sgr_kernel.llm as llm

EXPECTED = {
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
}


def test_exported_names() -> None:
    assert set(llm.__all__) == EXPECTED
    for name in EXPECTED - {"LocalLLM"}:  # LocalLLM's module needs llama_cpp only when used
        assert getattr(llm, name) is not None
    assert llm.OpenAICompatLLM.name == "openai_compat"
