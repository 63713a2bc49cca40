"""``lora_finetune``: a PEFT LoRA adapter for a small causal LM, trained on a worker.

The dataset is read and checked here, before any job is submitted; the rows travel in the
job's parameters (and so in the run's log: a replay needs neither the file nor a worker).
The job checkpoints every ``checkpoint_every`` steps and resumes from the last checkpoint
when its worker died. The adapter comes back as artifacts (PEFT's own format: it loads with
``PeftModel.from_pretrained``), with the loss curve and before/after sample answers.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sgr_kernel.errors import StepContractError
from sgr_kernel.models.plan import Placement
from sgr_kernel.skills.base import CAP_REMOTE, Skill, SkillContext
from sgr_skills.finetune._data import load_jsonl, split
from sgr_skills.finetune._jobs import TRAIN_JOB
from sgr_skills.finetune.base import Example, TrainSpec

__all__ = ["LoraFinetuneSkill", "LoraInput", "LoraOutput"]


class LoraInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: str | None = Field(None, description="A JSONL file of {prompt, response} rows.")
    examples: list[Example] | None = Field(
        None, max_length=5000, description="Rows given inline instead of a file."
    )
    eval_data: str | None = Field(None, description="Held-out JSONL (default: split from data).")
    eval_fraction: float = Field(0.2, gt=0, lt=1, description="Share held out when no eval_data.")
    model: Literal["smollm2-135m", "tiny-random-llama"] = Field(
        "smollm2-135m", description="Base model (tiny-random-llama: tests only)."
    )
    steps: int = Field(20, ge=1, le=100_000, description="Optimiser steps.")
    batch_size: int = Field(4, ge=1, le=256, description="Examples per step.")
    lr: float = Field(2e-3, gt=0, le=1.0, description="Learning rate.")
    r: int = Field(8, ge=1, le=256, description="LoRA rank.")
    checkpoint_every: int = Field(5, ge=1, description="Checkpoint every N steps.")
    checkpoint_dir: str | None = Field(
        None, description="Shared folder for checkpoints (default $SGR_HOME/jobs)."
    )
    gpu: bool = Field(False, description="Train on a worker that offers a GPU.")
    samples: list[str] = Field(
        default_factory=list, max_length=8, description="Prompts answered before and after."
    )
    max_new_tokens: int = Field(40, ge=1, le=512, description="Length of sample answers.")
    timeout_s: float = Field(3600, gt=0, le=7 * 86400, description="Deadline of the job.")
    step_delay_s: float = Field(0.0, ge=0, le=10, description="Test hook: sleep per step.")

    @model_validator(mode="after")
    def _one_source(self) -> LoraInput:
        if (self.data is None) == (self.examples is None):
            raise ValueError("give exactly one of data (a JSONL path) or examples")
        return self


class LoraOutput(BaseModel):
    adapter: list[dict[str, Any]] = Field(description="The adapter's files (stored artifacts).")
    artifacts: list[dict[str, Any]] = Field(description="Every artifact: adapter, loss curve, …")
    eval_loss_before: float = Field(description="Held-out loss of the base model.")
    eval_loss_after: float = Field(description="Held-out loss with the adapter.")
    train_losses: list[float] = Field(description="Loss of every step.")
    samples: list[dict[str, str]] = Field(description="prompt, before and after answers.")
    resumed_from_step: int = Field(description="0, or the checkpoint step a re-run continued from.")
    seconds_per_step: float = Field(description="Training time per step on the worker.")
    device: str = Field(description="cpu or cuda.")
    trainable_params: int = Field(description="Parameters in the adapter.")


class LoraFinetuneSkill(Skill):
    name = "lora_finetune"
    description = (
        "Fine-tune a small language model (SmolLM2-135M-Instruct) with a LoRA adapter on a JSONL "
        "dataset of prompt/response rows, on a Dask worker (GPU when gpu=true), checkpointing and "
        "resuming. Inputs: data (path) or examples, steps, samples. Outputs: adapter, "
        "eval_loss_before, eval_loss_after, train_losses, samples."
    )
    Input = LoraInput
    Output = LoraOutput
    cues = (r"\bfine-?tun(e|ing)\b", r"\blora\b", r"\btrain\b.{0,40}\b(adapter|model)\b")
    capabilities = frozenset({CAP_REMOTE})
    placement = Placement.REMOTE
    idempotent = True
    resources: ClassVar[dict[str, float | int | str]] = {}
    """Resources of every training job; ``gpu=true`` adds ``GPU: 1``."""

    @staticmethod
    def idempotency_key(spec: TrainSpec) -> str:
        """Same data and settings → same key."""
        return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]

    def spec(self, inputs: LoraInput) -> TrainSpec:
        """The job's parameters; raises ``StepContractError`` (never retried) on bad data."""
        try:
            rows = inputs.examples or load_jsonl(inputs.data or "")
            if inputs.eval_data:
                train, held = rows, load_jsonl(inputs.eval_data)
            else:
                train, held = split(rows, inputs.eval_fraction)
        except ValueError as e:
            raise StepContractError(str(e)) from None
        return TrainSpec(
            model=inputs.model,
            train=train,
            eval=held,
            steps=inputs.steps,
            batch_size=inputs.batch_size,
            lr=inputs.lr,
            r=inputs.r,
            alpha=2 * inputs.r,
            checkpoint_every=inputs.checkpoint_every,
            checkpoint_root=inputs.checkpoint_dir,
            device="cuda" if inputs.gpu else "cpu",
            samples=tuple(inputs.samples),
            max_new_tokens=inputs.max_new_tokens,
            step_delay_s=inputs.step_delay_s,
        )

    async def run(self, ctx: SkillContext, inputs: LoraInput) -> LoraOutput:
        spec = self.spec(inputs)
        resources = {**self.resources, **({"GPU": 1} if inputs.gpu else {})}
        out = await ctx.remote(
            TRAIN_JOB, spec.model_dump(mode="json"), resources=resources, timeout_s=inputs.timeout_s
        )
        arts = list(out.get("artifacts") or [])
        return LoraOutput(
            adapter=[a for a in arts if str(a.get("name", "")).startswith("adapter/")],
            artifacts=arts,
            eval_loss_before=out["eval_loss_before"],
            eval_loss_after=out["eval_loss_after"],
            train_losses=out["train_losses"],
            samples=out["samples"],
            resumed_from_step=out["resumed_from_step"],
            seconds_per_step=out["seconds_per_step"],
            device=out["device"],
            trainable_params=out["trainable_params"],
        )
