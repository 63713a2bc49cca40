"""LoRA fine-tuning of a small causal LM on Dask workers, with checkpoints and resume.

Needs the ``lora`` extra (torch, transformers, peft, gguf) and, for SmolLM2-135M, the model
(``scripts/install-lora-model.sh``); importing this package needs neither. See docs/lora.md.
"""

from sgr_skills.finetune.base import Example, TrainSpec
from sgr_skills.finetune.skill import LoraFinetuneSkill

__all__ = ["Example", "LoraFinetuneSkill", "TrainSpec"]
