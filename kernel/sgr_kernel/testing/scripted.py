"""Test doubles for the model: :class:`ScriptedLLM` (re-exported from ``sgr_kernel.llm``).

``from sgr_kernel.testing.scripted import ScriptedLLM`` is the spelling promised for tests;
the class itself lives beside the other providers.
"""

from sgr_kernel.llm.scripted import ScriptedLLM

__all__ = ["ScriptedLLM"]
