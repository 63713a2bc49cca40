"""The worker side of a LoRA fine-tune: ``sgr.lora.train`` runs ``_train.train``.

The job's checkpoints live under its idempotency key in a shared folder, so the same job
re-run on another worker (its first worker died) continues from the last checkpoint.
The trained adapter, its loss curve and a PNG of it come back as artifacts.
"""

from __future__ import annotations

import json
from typing import Any

from sgr_kernel.dispatch.base import JobCancelled, current_job, job
from sgr_skills.finetune.base import TrainSpec

__all__ = ["TRAIN_JOB", "lora_train"]

TRAIN_JOB = "sgr.lora.train"


def _plot(losses: list[float], eval_before: float, eval_after: float, path: Any) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the curve is also in losses.json
        return
    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    ax.plot(range(1, len(losses) + 1), losses, label="train loss")
    ax.axhline(eval_before, color="grey", ls="--", label=f"eval before {eval_before:.2f}")
    ax.axhline(eval_after, color="green", ls="--", label=f"eval after {eval_after:.2f}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


@job(TRAIN_JOB)
def lora_train(**params: Any) -> dict[str, Any]:
    """Train a LoRA adapter per :class:`TrainSpec` (``params``); resumes from a checkpoint."""
    from sgr_skills.finetune._train import train

    ctx = current_job()
    spec = TrainSpec.model_validate(params)
    out = train(spec, ctx.key, ctx.artifact_dir, (ctx.progress, ctx.cancelled))
    if out.get("cancelled"):
        raise JobCancelled(ctx.key)
    _plot(
        out["train_losses"],
        out["eval_loss_before"],
        out["eval_loss_after"],
        ctx.artifact_dir / "loss_curve.png",
    )
    (ctx.artifact_dir / "samples.json").write_text(json.dumps(out["samples"], indent=2))
    return out
