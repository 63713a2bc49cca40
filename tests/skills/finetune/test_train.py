"""LoRA training on a tiny random-init Llama (plumbing): loss falls, checkpoints resume,
the adapter loads back to the same eval loss and changes the answers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from lora_helpers import ROWS, need_lora

from sgr_kernel.dispatch.inline import InlineDispatcher
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.errors import PlanValidationError
from sgr_kernel.models.plan import parse_plan
from sgr_kernel.models.status import RunStatus
from sgr_skills.finetune import Example, LoraFinetuneSkill, TrainSpec
from sgr_skills.finetune._train import checkpoint_dir, latest_checkpoint, train


def _spec(tmp: Path, **kw: Any) -> TrainSpec:
    rows = [Example(**r) for r in ROWS]
    base: dict[str, Any] = {
        "model": "tiny-random-llama",
        "train": rows[:24],
        "eval": rows[24:],
        "steps": 12,
        "batch_size": 8,
        "lr": 2e-2,
        "checkpoint_every": 4,
        "checkpoint_root": str(tmp / "ckpt"),
        "samples": ("What is 2 plus 2?",),
        "max_new_tokens": 12,
    }
    return TrainSpec(**{**base, **kw})


class Crash(Exception):
    pass


def _hooks(crash_at: int | None = None) -> tuple[Any, Any]:
    def progress(fraction: Any = None, message: str = "", **m: float) -> None:
        if crash_at is not None and m.get("step") == crash_at and "loss" in m:
            raise Crash(f"died after step {crash_at}")

    return progress, lambda: False


def test_a_crashed_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    need_lora()
    spec = _spec(tmp_path)
    ref = train(spec, "ref", tmp_path / "ref", _hooks())
    with pytest.raises(Crash):
        train(spec, "run:s:1", tmp_path / "a", _hooks(crash_at=6))
    assert latest_checkpoint(checkpoint_dir(spec.checkpoint_root, "run:s:1")).name == "ckpt-000004"
    again = train(spec, "run:s:1", tmp_path / "b", _hooks())
    assert ref["resumed_from_step"] == 0 and again["resumed_from_step"] == 4
    assert again["train_losses"][:4] == ref["train_losses"][:4]  # restored from the checkpoint
    assert again["adapter_shapes"] == ref["adapter_shapes"]
    delta = abs(again["eval_loss_after"] - ref["eval_loss_after"])
    assert delta < 1e-3
    assert ref["eval_loss_after"] < ref["eval_loss_before"] - 0.2
    kept = sorted(p.name for p in checkpoint_dir(spec.checkpoint_root, "run:s:1").iterdir())
    assert kept == ["ckpt-000008", "ckpt-000012"]  # the newest two


def test_the_adapter_loads_back_and_changes_the_answers(tmp_path: Path) -> None:
    need_lora()
    from sgr_skills.finetune._model import load_adapter, load_base
    from sgr_skills.finetune._train import _encode, answer, eval_loss

    spec = _spec(tmp_path, steps=30, checkpoint_every=30)
    out = train(spec, "k", tmp_path / "out", _hooks())
    base, tok = load_base("tiny-random-llama", spec.seed)
    rows = _encode(tok, list(spec.eval), spec.max_len)
    assert eval_loss(base, rows, tok.pad_id, "cpu") == pytest.approx(out["eval_loss_before"])
    before = answer(base, tok, spec.samples[0], 12, "cpu")
    model = load_adapter(base, tmp_path / "out" / "adapter")
    assert eval_loss(model, rows, tok.pad_id, "cpu") == pytest.approx(
        out["eval_loss_after"], abs=1e-5
    )
    after = answer(model, tok, spec.samples[0], 12, "cpu")
    assert [before, after] == [out["samples"][0]["before"], out["samples"][0]["after"]]
    assert before != after  # a random-init model learns the style only with the real one


def _kernel(tmp: Path, d: Any) -> Kernel:
    return Kernel(
        KernelConfig(home=tmp / "home"), skills={"lora_finetune": LoraFinetuneSkill}, dispatcher=d
    )


def _plan(inputs: dict[str, Any]) -> Any:
    step = {"id": "ft", "skill": "lora_finetune", "capabilities": ["remote"], "inputs": inputs}
    return parse_plan(json.dumps({"name": "lora", "steps": [step]}))


def test_the_skill_returns_the_adapter_as_artifacts(tmp_path: Path, dataset: Path) -> None:
    d = InlineDispatcher()
    k = _kernel(tmp_path, d)
    inputs = {
        "data": str(dataset),
        "model": "tiny-random-llama",
        "steps": 8,
        "batch_size": 8,
        "lr": 0.02,
        "checkpoint_every": 4,
        "checkpoint_dir": str(tmp_path / "ckpt"),
        "samples": ["What is 1 plus 1?"],
    }
    result = asyncio.run(k.run(plan=_plan(inputs)))
    assert result.status is RunStatus.COMPLETED, k.show(result.run_id)
    out = result.outputs["ft"]
    names = sorted(a["name"] for a in out["artifacts"])
    assert "adapter/adapter_model.safetensors" in names and "loss_curve.png" in names
    assert "losses.json" in names and "samples.json" in names
    assert len(out["train_losses"]) == 8 and out["eval_loss_after"] < out["eval_loss_before"]
    [cfg] = [a for a in out["adapter"] if a["name"] == "adapter/adapter_config.json"]
    assert json.loads(k.store.get_artifact(result.run_id, cfg["sha256"]))["r"] == 8
    report = asyncio.run(k.replay(result.run_id))
    assert report.ok and report.live_calls == 0 and d.submitted == 1


@pytest.mark.parametrize(
    ("inputs", "why"),
    [
        ({"data": "/nonexistent.jsonl"}, "is not a file"),
        ({}, "exactly one of data"),
        ({"examples": [{"prompt": "a", "response": "b"}]}, "at least 2 rows"),
    ],
)
def test_bad_inputs_fail_before_any_job(tmp_path: Path, inputs: dict[str, Any], why: str) -> None:
    d = InlineDispatcher()
    k = _kernel(tmp_path, d)
    result = asyncio.run(k.run(plan=_plan({"model": "tiny-random-llama", **inputs})))
    assert result.status is RunStatus.FAILED
    [step] = [s for s in k.show(result.run_id).steps if s.id == "ft"]
    assert "StepContractError" in (step.error or "") and why in (step.error or "")
    assert d.submitted == 0 and step.attempts == 1


def test_a_literal_out_of_bounds_input_is_a_planning_error(tmp_path: Path) -> None:
    d = InlineDispatcher()
    k = _kernel(tmp_path, d)
    inputs = {"model": "tiny-random-llama", "examples": [{"prompt": "a", "response": "b"}] * 3}
    with pytest.raises(PlanValidationError, match="greater than or equal"):
        asyncio.run(k.run(plan=_plan({**inputs, "steps": 0})))
    assert d.submitted == 0 and k.store.list_runs() == []  # refused before anything was written


def test_a_gpu_job_on_a_worker_without_cuda_fails_clearly(tmp_path: Path, dataset: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal cannot be shown here")
    d = InlineDispatcher()
    k = _kernel(tmp_path, d)
    inputs = {"data": str(dataset), "model": "tiny-random-llama", "steps": 2, "gpu": True}
    result = asyncio.run(k.run(plan=_plan(inputs)))
    assert result.status is RunStatus.FAILED
    [step] = [s for s in k.show(result.run_id).steps if s.id == "ft"]
    assert "asks for a GPU (device=cuda) and this worker has none" in (step.error or "")


def test_cancel_stops_training_cooperatively_and_keeps_a_checkpoint(
    tmp_path: Path, dataset: Path
) -> None:
    d = InlineDispatcher()
    k = _kernel(tmp_path, d)
    ckpts = tmp_path / "ckpt"
    inputs = {
        "data": str(dataset),
        "model": "tiny-random-llama",
        "steps": 500,
        "checkpoint_every": 4,
        "checkpoint_dir": str(ckpts),
        "step_delay_s": 0.05,
    }

    async def go() -> tuple[Any, int]:
        handle = await k.start(plan=_plan(inputs))
        while not any(latest_checkpoint(f) for f in ckpts.glob("*")):
            await asyncio.sleep(0.05)
        result = await k.cancel(handle.run_id)
        await d.close()
        return result, handle

    result, _ = asyncio.run(go())
    assert result.status is RunStatus.CANCELLED
    [folder] = list(ckpts.glob("*"))
    last = latest_checkpoint(folder)
    assert last is not None and 4 <= int(last.name.split("-")[1]) < 500
