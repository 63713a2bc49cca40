"""LoRA on real Dask: the worker training the adapter is killed (kill -9) after a checkpoint;
Dask re-runs the job on another worker, which resumes from the checkpoint, not from step 0.
The final adapter matches an unkilled run's in shape and (within tolerance) in loss."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dask_procs import Victim, WorkerKiller
from lora_helpers import need_lora
from remote_helpers import run_then_close

from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import parse_plan
from sgr_kernel.models.status import RunStatus
from sgr_kernel.trace.base import RecordType
from sgr_skills.finetune import LoraFinetuneSkill
from sgr_skills.finetune._train import latest_checkpoint, train

pytestmark = pytest.mark.dask


def _checkpointed(root: Path) -> Callable[[], list[Victim]]:
    """The worker (pid) that wrote the newest checkpoint of a job, labelled with its step."""

    def find() -> list[Victim]:
        found = []
        for folder in root.glob("*"):
            ckpt = latest_checkpoint(folder)
            if ckpt is not None:
                try:
                    state = json.loads((ckpt / "state.json").read_text())
                except (OSError, ValueError):  # being written: the next poll reads it
                    continue
                found.append((f"checkpoint at step {state['step']}", int(state["pid"])))
        return found

    return find


def test_a_killed_worker_resumes_training_from_the_last_checkpoint(
    tmp_path: Path, dataset: Path
) -> None:
    need_lora()
    pytest.importorskip("distributed")
    from sgr_kernel.dispatch.config import load_dispatch_settings
    from sgr_kernel.dispatch.dask import DaskDispatcher

    inputs: dict[str, Any] = {
        "data": str(dataset),
        "model": "tiny-random-llama",
        "steps": 12,
        "batch_size": 8,
        "lr": 0.02,
        "checkpoint_every": 4,
        "checkpoint_dir": str(tmp_path / "ckpt"),
        "step_delay_s": 0.2,
    }
    step = {"id": "ft", "skill": "lora_finetune", "capabilities": ["remote"], "inputs": inputs}
    plan = parse_plan(json.dumps({"name": "lora", "steps": [step]}))
    d = DaskDispatcher(settings=load_dispatch_settings(env={}, allowed_failures=3, local_workers=2))

    def make() -> Kernel:
        skills = {"lora_finetune": LoraFinetuneSkill}
        return Kernel(KernelConfig(home=tmp_path / "home"), skills=skills, dispatcher=d)

    # kill -9 the worker once its job has written a checkpoint
    with WorkerKiller(_checkpointed(tmp_path / "ckpt")) as killer:
        k, result = run_then_close(make, d, plan)
    killed = [(pid, int(label.split()[-1])) for label, pid in killer.killed]
    assert result.status is RunStatus.COMPLETED, k.show(result.run_id)
    out = result.outputs["ft"]
    # the unkilled reference: the same spec, trained here in one go
    spec = LoraFinetuneSkill().spec(LoraFinetuneSkill.Input.model_validate(inputs))
    spec = spec.model_copy(update={"checkpoint_root": str(tmp_path / "ref"), "step_delay_s": 0.0})
    ref = train(spec, "ref", tmp_path / "ref-out", (lambda *a, **k: None, lambda: False))
    delta = out["eval_loss_after"] - ref["eval_loss_after"]
    records = k.store.read(result.run_id).records
    commits = sum(
        1 for r in records if r.type is RecordType.STEP and r.data.get("status") == "COMMITTED"
    )
    print(
        f"FIGURE lora resumed_from_step={out['resumed_from_step']} "
        f"final_loss_delta={delta:.2e} killed={len(killed)} "
        f"eval_loss={out['eval_loss_before']:.3f}->{out['eval_loss_after']:.3f} commits={commits}"
    )
    assert len(killed) == 1 and killed[0][1] >= 4
    assert out["resumed_from_step"] >= 4  # continued, not started over
    assert out["train_losses"][:4] == pytest.approx(ref["train_losses"][:4], abs=1e-5)
    assert len(out["train_losses"]) == 12 and abs(delta) < 1e-3
    names = {a["name"] for a in out["adapter"]}
    assert "adapter/adapter_model.safetensors" in names
    shapes_ref = ref["adapter_shapes"]
    from safetensors.torch import load

    [st] = [a for a in out["adapter"] if a["name"] == "adapter/adapter_model.safetensors"]
    tensors = load(k.store.get_artifact(result.run_id, st["sha256"]))
    assert sorted(list(v.shape) for v in tensors.values()) == sorted(shapes_ref.values())
    assert commits == 1


def test_a_gpu_fine_tune_waits_for_a_gpu_worker_and_fails_clearly_without_one(
    tmp_path: Path, dataset: Path
) -> None:
    need_lora()
    pytest.importorskip("distributed")
    from sgr_kernel.dispatch.config import load_dispatch_settings
    from sgr_kernel.dispatch.dask import DaskDispatcher

    inputs = {"data": str(dataset), "model": "tiny-random-llama", "steps": 2, "gpu": True}
    step = {"id": "ft", "skill": "lora_finetune", "capabilities": ["remote"], "inputs": inputs}
    plan = parse_plan(json.dumps({"name": "lora", "steps": [step]}))
    settings = load_dispatch_settings(env={}, resource_wait_s=1.0, local_workers=1)
    d = DaskDispatcher(settings=settings)

    async def go() -> tuple[Kernel, Any]:
        k = Kernel(
            KernelConfig(home=tmp_path / "home"),
            skills={"lora_finetune": LoraFinetuneSkill},
            dispatcher=d,
        )
        try:
            return k, await k.run(plan=plan)
        finally:
            await d.close()

    k, result = asyncio.run(go())
    assert result.status is RunStatus.FAILED
    [s] = [s for s in k.show(result.run_id).steps if s.id == "ft"]
    assert "RemoteResourceUnavailable" in (s.error or "") and "GPU" in (s.error or "")
