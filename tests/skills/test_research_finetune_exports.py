"""The research and fine-tune packages: pinned exports, cheap imports, registered entry points,
and the ``sgr.cli`` plug-in seam."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import sgr_skills.finetune
import sgr_skills.research
from sgr_kernel.cli_plugins import add_plugin_commands
from sgr_kernel.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_exports_are_pinned() -> None:
    assert set(sgr_skills.research.__all__) == {
        "Claim", "CorpusIndex", "DeepResearchSkill", "Passage", "Source",
    }  # fmt: skip
    assert set(sgr_skills.finetune.__all__) == {"Example", "LoraFinetuneSkill", "TrainSpec"}


def test_importing_the_skills_and_the_cli_stays_cheap() -> None:
    heavy = ["torch", "transformers", "peft", "httpx", "distributed", "matplotlib"]
    code = (
        "import sys, sgr_skills.research, sgr_skills.finetune, sgr_skills.research.cli;"
        "from sgr_kernel.cli import build_parser; build_parser();"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out


def test_entry_points_are_declared() -> None:
    eps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert eps["sgr.skills"]["deep_research"] == "sgr_skills.research:DeepResearchSkill"
    assert eps["sgr.skills"]["lora_finetune"] == "sgr_skills.finetune:LoraFinetuneSkill"
    assert eps["sgr.cli"]["corpus"] == "sgr_skills.research.cli:add_commands"


def test_a_plugin_clashing_with_a_builtin_command_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib.metadata import EntryPoint

    import sgr_kernel.cli_plugins as plugins

    ep = EntryPoint("evil", "sgr_skills.research.cli:add_commands", "sgr.cli")
    monkeypatch.setattr(plugins, "entry_points", lambda group: [ep, ep])
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()

    def cmd(name: str, help: str, fn: object) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help)

    with pytest.raises(ConfigError, match=r"sgr\.cli entry point 'evil'"):
        add_plugin_commands(cmd)
