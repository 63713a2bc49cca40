"""Settings: one precedence order, secrets kept secret, lazy providers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sgr_kernel.errors import ConfigError
from sgr_kernel.llm import config as cfg
from sgr_kernel.llm.config import LLMSettings, config_path, load_settings, make_client
from sgr_kernel.llm.scripted import ScriptedLLM


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    (project / "sub").mkdir(parents=True)
    return home, project


def test_nothing_configured_means_local(dirs: tuple[Path, Path]) -> None:
    home, project = dirs
    s = load_settings(env={"SGR_HOME": str(home)}, project_dir=project)
    assert s.provider == "local" and s.model is None and s.api_key is None


def test_precedence_explicit_env_pyproject_home(dirs: tuple[Path, Path]) -> None:
    home, project = dirs
    (home / "config.toml").write_text(
        'model = "home-model"\nbase_url = "http://home/v1"\ntimeout_s = 5\napi_key = "k-home"\n'
        '[pricing]\n"home-model" = [1.0, 2.0]\n'
    )
    (project / "pyproject.toml").write_text(
        '[tool.sgr]\nmodel = "project-model"\nother_setting = "ignored"\n'
        '[tool.sgr.pricing]\n"project-model" = [3.0, 4.0]\n'
    )
    env = {"SGR_HOME": str(home), "SGR_MODEL": "env-model"}
    s = load_settings(env=env, project_dir=project / "sub")
    assert s.provider == "openai_compat"  # an endpoint is configured
    assert (s.model, s.base_url, s.timeout_s) == ("env-model", "http://home/v1", 5)
    assert s.api_key is not None and s.api_key.get_secret_value() == "k-home"
    assert s.sources["model"] == "SGR_MODEL"
    assert s.sources["timeout_s"] == str(home / "config.toml")
    assert s.pricing["home-model"] == (1.0, 2.0) and s.pricing["project-model"] == (3.0, 4.0)
    assert "gpt-4o-mini" in s.pricing  # defaults stay under overrides
    s2 = load_settings(model="explicit", env=env, project_dir=project)
    assert s2.model == "explicit" and s2.sources["model"] == "explicit"
    s3 = load_settings(env={"SGR_HOME": str(home)}, project_dir=project)
    assert s3.model == "project-model" and s3.sources["model"].endswith("pyproject.toml")


def test_provider_spellings(dirs: tuple[Path, Path]) -> None:
    home, project = dirs
    env = {"SGR_HOME": str(home), "SGR_PROVIDER": "scripted:/tmp/r.jsonl"}
    s = load_settings(env=env, project_dir=project)
    assert (s.provider, s.scripted_path) == ("scripted", "/tmp/r.jsonl")
    s = load_settings(provider="openai", env={"SGR_HOME": str(home)}, project_dir=project)
    assert s.provider == "openai_compat"
    with pytest.raises(ConfigError, match="provider"):
        load_settings(provider="magic", env={"SGR_HOME": str(home)}, project_dir=project)


def test_bad_files_and_keys_in_project_files(dirs: tuple[Path, Path]) -> None:
    home, project = dirs
    (home / "config.toml").write_text("model = [unclosed\n")
    with pytest.raises(ConfigError, match="TOML"):
        load_settings(env={"SGR_HOME": str(home)}, project_dir=project)
    (home / "config.toml").write_text("timeout_s = -1\n")
    with pytest.raises(ConfigError, match="timeout_s"):
        load_settings(env={"SGR_HOME": str(home)}, project_dir=project)
    (home / "config.toml").unlink()
    (project / "pyproject.toml").write_text('[tool.sgr]\napi_key = "sk-committed"\n')
    with pytest.raises(ConfigError, match="committed") as err:
        load_settings(env={"SGR_HOME": str(home)}, project_dir=project)
    assert "sk-committed" not in str(err.value)


def test_config_path_honours_sgr_home(tmp_path: Path) -> None:
    assert config_path({"SGR_HOME": str(tmp_path)}) == tmp_path / "config.toml"
    assert config_path({}).parts[-2:] == (".sgr", "config.toml")


def test_api_key_never_in_repr_or_dump() -> None:
    s = LLMSettings(provider="openai_compat", api_key="sk-canary-123")  # type: ignore[arg-type]
    for text in (repr(s), str(s), s.model_dump_json(), str(s.model_dump())):
        assert "sk-canary-123" not in text


def test_cost_from_pricing_table() -> None:
    s = LLMSettings(pricing={"m": (1.0, 2.0)})
    assert s.cost_usd("m", 1_000_000, 500_000) == pytest.approx(2.0)
    assert s.cost_usd("m-2024-01-01", 1_000_000, 0) == pytest.approx(1.0)
    assert s.cost_usd("unknown", 10, 10) == 0.0


def test_make_client_scripted(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('"hello"\n')
    client = make_client(LLMSettings(provider="scripted", scripted_path=str(path)))
    assert isinstance(client, ScriptedLLM) and client.remaining == 1
    with pytest.raises(ConfigError, match="scripted:PATH"):
        make_client(LLMSettings(provider="scripted"))


def test_missing_extra_names_the_install() -> None:
    with pytest.raises(ConfigError, match=r"pip install 'sgr-jupyter\[local\]'"):
        cfg._require("no_such_module_for_sgr_tests", "local")


def test_importing_the_kernel_loads_no_llm_sdk() -> None:
    code = (
        "import sys, sgr_kernel, sgr_kernel.llm, sgr_kernel.llm.config, sgr_kernel.llm.planner\n"
        "bad = [m for m in ('openai', 'llama_cpp') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_local_model_setting_must_be_a_gguf(tmp_path: Path) -> None:
    from sgr_kernel.llm.local import LocalLLM

    with pytest.raises(ConfigError, match=r"\.gguf"):
        LocalLLM.from_settings(LLMSettings(model="llama3:8b"))
    with pytest.raises(ConfigError, match=r"no such \.gguf file"):
        LocalLLM.from_settings(LLMSettings(model=str(tmp_path / "missing.gguf")))
