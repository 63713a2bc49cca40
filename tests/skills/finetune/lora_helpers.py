"""Shared by the LoRA tests: the lora-extra check and a small arithmetic dataset."""

from __future__ import annotations

import os

import pytest


def need_lora() -> None:
    """Skip locally, FAIL under CI=true, when the lora extra is missing."""
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the lora extra is missing ({e.name}): make venv")
        pytest.skip(f"the lora extra is not installed ({e.name})")


ROWS = [
    {"prompt": f"What is {a} plus {b}?", "response": f"The sum is {a + b}. Done!"}
    for a in range(6)
    for b in range(5)
]
