"""``sgr models``: the configured provider, the embedded model, GGUF files in local stores.

A Hugging Face cache and an Ollama store are laid out in a temporary home exactly as those
tools write them (snapshot symlinks; manifests naming a model layer blob), holding the real
embedded GGUF and one broken file; ``sgr doctor`` shows an endpoint's structured-output mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sgr_kernel.errors import ConfigError
from sgr_kernel.llm.config import LLMSettings
from sgr_kernel.llm.local import LocalLLM, bundled_model_path
from sgr_kernel.testing.openai_server import OpenAITestServer

ROOT = Path(__file__).resolve().parents[3]
DIGEST = "sha256-" + "ab" * 32


def _stores(home: Path) -> dict[str, str]:
    gguf = bundled_model_path()
    hf = home / "hf" / "hub" / "models--HuggingFaceTB--SmolLM2-135M-Instruct-GGUF"
    (hf / "snapshots" / "rev1").mkdir(parents=True)
    (hf / "blobs").mkdir()
    (hf / "snapshots" / "rev1" / "smollm2-q4.gguf").symlink_to(gguf)
    (hf / "snapshots" / "rev1" / "broken.gguf").write_bytes(b"not a model at all")
    ollama = home / "ollama"
    manifest = ollama / "manifests" / "registry.ollama.ai" / "library" / "smollm2" / "135m"
    manifest.parent.mkdir(parents=True)
    layer = {
        "mediaType": "application/vnd.ollama.image.model",
        "digest": DIGEST.replace("-", ":", 1),
    }
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": [layer]}))
    (ollama / "blobs").mkdir()
    (ollama / "blobs" / DIGEST).symlink_to(gguf)
    return {"HF_HOME": str(home / "hf"), "OLLAMA_MODELS": str(ollama), "HOME": str(home)}


def _sgr(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGR_", "HF_", "OLLAMA"))}
    env |= env_extra
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "kernel"), str(ROOT / "skills"), str(ROOT)])
    return subprocess.run(
        [sys.executable, "-m", "sgr_kernel.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_models_lists_embedded_hf_and_ollama_files(tmp_path: Path, sgr_home: Path) -> None:
    env = _stores(tmp_path) | {"SGR_HOME": str(sgr_home)}
    proc = _sgr(env, "models", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["configured"]["provider"] == "local"
    by_name: dict[str, Any] = {f["name"]: f for f in data["files"]}
    # The HF snapshot and the Ollama blob point at the embedded file: listed once, embedded.
    assert by_name["smollm2-135m"]["source"] == "embedded" and by_name["smollm2-135m"]["loads"]
    broken = by_name["HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/broken.gguf"]
    assert broken["loads"] is False and "GGUF magic" in broken["problem"]
    human = _sgr(env, "models", "--no-load-check")
    assert "smollm2-135m" in human.stdout and "not checked" in human.stdout


def test_models_finds_distinct_files_in_both_stores(tmp_path: Path) -> None:
    from sgr_kernel.llm.discover import find_gguf_files

    env = _stores(tmp_path)
    copy = tmp_path / "ollama" / "blobs" / DIGEST
    copy.unlink()
    copy.write_bytes(b"GGUF" + b"\0" * 60)  # a truncated model: the magic, nothing else
    files = {f.name: f for f in find_gguf_files(env, check_load=True)}
    assert files["smollm2:135m"].source == "ollama" and files["smollm2:135m"].size_bytes == 64
    assert files["smollm2:135m"].loads is False and "cannot load" in str(
        files["smollm2:135m"].problem
    )


def test_sgr_model_takes_any_gguf_path(tmp_path: Path) -> None:
    env = _stores(tmp_path)
    blob = Path(env["OLLAMA_MODELS"]) / "blobs" / DIGEST  # no .gguf suffix
    llm = LocalLLM.from_settings(LLMSettings(model=str(blob)))
    assert llm.model_path == blob
    not_gguf = tmp_path / "notes.txt"
    not_gguf.write_text("hello")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        LocalLLM.from_settings(LLMSettings(model=str(not_gguf)))
    with pytest.raises(ConfigError, match=r"no such \.gguf"):
        LocalLLM.from_settings(LLMSettings(model=str(tmp_path / "missing.gguf")))


def test_doctor_shows_the_endpoints_structured_output_mode(sgr_home: Path) -> None:
    with OpenAITestServer(supports_json_schema=False) as srv:
        env = {"SGR_HOME": str(sgr_home), "SGR_BASE_URL": srv.base_url, "SGR_MODEL": "test-model"}
        proc = _sgr(env, "doctor", "--json")
        llm = json.loads(proc.stdout)["llm"]
        assert llm["provider"] == "openai_compat"
        assert llm["structured_output"] == "json_object_schema"
        assert llm["tried"]["json_schema"].startswith("refused (400")
        probes = len(srv.probe_requests)
        human = _sgr(env, "doctor")  # second time: from the cache, no new probe
        assert "structured output: json_object_schema" in human.stdout
        assert len(srv.probe_requests) == probes == 2
