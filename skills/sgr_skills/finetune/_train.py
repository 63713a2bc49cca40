"""The LoRA training loop: checkpoints, resume, eval loss, before/after samples.

Batch ``i`` is drawn from a generator seeded with ``(seed, i)``, and dropout is off, so a run
resumed from the checkpoint of step K takes the same steps an unbroken run would. A
checkpoint is a folder ``ckpt-<step>`` (adapter weights, optimizer state, step and losses)
written beside its final name and renamed into place, so a worker killed mid-write leaves
the previous one whole. The newest two are kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sgr_skills.finetune._model import Tokens, load_base
from sgr_skills.finetune.base import Example, TrainSpec

__all__ = ["Hooks", "checkpoint_dir", "latest_checkpoint", "train"]

Hooks = tuple[Callable[..., None], Callable[[], bool]]
"""(progress(fraction, message, **metrics), cancelled()) of the running job."""

_CKPT = re.compile(r"^ckpt-(\d{6})$")


def checkpoint_dir(root: str | None, key: str) -> Path:
    """The job's checkpoint folder: ``ROOT/<key>`` (ROOT default ``$SGR_HOME/jobs``)."""
    base = Path(root) if root else Path(os.environ.get("SGR_HOME") or Path.home() / ".sgr") / "jobs"
    return base / re.sub(r"[^A-Za-z0-9._-]", "_", key)


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint in ``folder``, if any."""
    if not folder.is_dir():
        return None
    done = [p for p in folder.iterdir() if _CKPT.match(p.name) and (p / "state.json").is_file()]
    return max(done, key=lambda p: p.name, default=None)


def _batch(
    rows: list[tuple[list[int], int]], size: int, seed: int, step: int, pad: int
) -> dict[str, Any]:
    import torch

    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    idx = torch.randint(len(rows), (size,), generator=g).tolist()
    return _collate([rows[i] for i in idx], pad)


def _collate(rows: list[tuple[list[int], int]], pad: int) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (toks, n_prompt) in enumerate(rows):
        ids[r, : len(toks)] = torch.tensor(toks)
        mask[r, : len(toks)] = 1
        labels[r, n_prompt : len(toks)] = torch.tensor(toks[n_prompt:])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _encode(tok: Tokens, examples: list[Example], max_len: int) -> list[tuple[list[int], int]]:
    out = []
    for e in examples:
        ids, n = tok.pair(e.prompt, e.response)
        if n < min(len(ids), max_len):  # keep rows with at least one response token
            out.append((ids[:max_len], n))
    if not out:
        raise ValueError(f"no example fits max_len={max_len} tokens with its response")
    return out


def eval_loss(model: Any, rows: list[tuple[list[int], int]], pad: int, device: str) -> float:
    """Mean token loss of the response tokens of ``rows`` (batches of 8)."""
    import torch

    model.eval()
    total = count = 0.0
    with torch.no_grad():
        for i in range(0, len(rows), 8):
            b = {k: v.to(device) for k, v in _collate(rows[i : i + 8], pad).items()}
            n = float((b["labels"][:, 1:] != -100).sum())
            total += float(model(**b).loss.detach()) * n
            count += n
    model.train()
    return total / max(count, 1.0)


def answer(model: Any, tok: Tokens, prompt: str, n: int, device: str) -> str:
    """Greedy answer to ``prompt`` (``n`` new tokens at most)."""
    import torch

    ids = torch.tensor([tok.prompt(prompt)], device=device)
    model.eval()
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=n,
            do_sample=False,
            eos_token_id=tok.eos_id,
            pad_token_id=tok.pad_id,
        )
    model.train()
    return tok.decode(out[0, ids.shape[1] :].tolist()).strip()


def _save(folder: Path, step: int, model: Any, opt: Any, losses: list[float]) -> None:
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    final = folder / f"ckpt-{step:06d}"
    tmp = folder / f".tmp-{step:06d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no config file" for a GGUF base
        weights = get_peft_model_state_dict(model)
    state = {k: v.detach().cpu().contiguous() for k, v in weights.items()}
    save_file(state, str(tmp / "adapter.safetensors"))
    torch.save(opt.state_dict(), tmp / "optimizer.pt")
    (tmp / "state.json").write_text(
        json.dumps({"v": 1, "step": step, "losses": losses, "pid": os.getpid()})
    )
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in sorted(p for p in folder.iterdir() if _CKPT.match(p.name))[:-2]:
        shutil.rmtree(old, ignore_errors=True)


def _restore(ckpt: Path, model: Any, opt: Any, device: str) -> tuple[int, list[float]]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(ckpt / "adapter.safetensors"), device=device))
    opt.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location=device))
    state = json.loads((ckpt / "state.json").read_text())
    return int(state["step"]), [float(x) for x in state["losses"]]


def train(spec: TrainSpec, key: str, out_dir: Path, hooks: Hooks) -> dict[str, Any]:
    """Fine-tune per ``spec``; checkpoints under the job ``key``; the adapter to ``out_dir``."""
    import torch
    from peft import LoraConfig, get_peft_model

    progress, cancelled = hooks
    if spec.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("the spec asks for a GPU (device=cuda) and this worker has none")
    device = spec.device
    progress(0.0, f"loading {spec.model}")
    model, tok = load_base(spec.model, spec.seed)
    train_rows = _encode(tok, list(spec.train), spec.max_len)
    eval_rows = _encode(tok, list(spec.eval), spec.max_len)
    model.to(device)
    before = [answer(model, tok, p, spec.max_new_tokens, device) for p in spec.samples]
    loss_before = eval_loss(model, eval_rows, tok.pad_id, device)
    progress(0.02, f"eval loss before {loss_before:.3f}", eval_loss=loss_before)
    torch.manual_seed(spec.seed)
    lora = LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=0.0,
        target_modules=list(spec.target_modules),
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(model, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=spec.lr)
    folder = checkpoint_dir(spec.checkpoint_root, key)
    start, losses = 0, list[float]()
    ckpt = latest_checkpoint(folder)
    if ckpt is not None:
        start, losses = _restore(ckpt, model, opt, device)
        progress(start / spec.steps, f"resumed from step {start}", step=float(start))
    resumed_from = start
    began = time.perf_counter()
    for step in range(start, spec.steps):
        if cancelled():
            _save(folder, step, model, opt, losses)
            return {"cancelled": True, "step": step}
        batch = {
            k: v.to(device)
            for k, v in _batch(train_rows, spec.batch_size, spec.seed, step, tok.pad_id).items()
        }
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if spec.step_delay_s:
            time.sleep(spec.step_delay_s)
        done = step + 1
        if done % spec.checkpoint_every == 0 or done == spec.steps:
            _save(folder, done, model, opt, losses)
        progress(
            0.05 + 0.9 * done / spec.steps,
            f"step {done}/{spec.steps} loss {losses[-1]:.3f}",
            step=float(done),
            loss=losses[-1],
        )
    per_step = (time.perf_counter() - began) / max(spec.steps - start, 1)
    loss_after = eval_loss(model, eval_rows, tok.pad_id, device)
    after = [answer(model, tok, p, spec.max_new_tokens, device) for p in spec.samples]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no config file" for a GGUF base
        model.save_pretrained(str(out_dir / "adapter"))
    (out_dir / "adapter" / "README.md").unlink(missing_ok=True)  # PEFT's empty model card
    (out_dir / "losses.json").write_text(json.dumps(losses))
    shapes = {
        k: list(v.shape)
        for k, v in model.state_dict().items()
        if "lora_" in k  # the adapter's own tensors
    }
    progress(1.0, f"done: eval loss {loss_before:.3f} -> {loss_after:.3f}", eval_loss=loss_after)
    return {
        "steps": spec.steps,
        "resumed_from_step": resumed_from,
        "train_losses": losses,
        "eval_loss_before": loss_before,
        "eval_loss_after": loss_after,
        "samples": [
            {"prompt": p, "before": b, "after": a}
            for p, b, a in zip(spec.samples, before, after, strict=True)
        ],
        "adapter_shapes": shapes,
        "trainable_params": sum(p.numel() for p in params),
        "seconds_per_step": per_step,
        "device": device,
        "checkpoints": str(folder),
    }
