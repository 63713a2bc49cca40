"""Every face shows a run in the one shape the runs API gives: the `sgr` command (a real
process), the notebook's runs table and the side panel's REST rows agree, planner excluded; an
empty SGR_HOME means ~/.sgr in the notebook as in the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sgr_kernel.engine import Kernel, KernelConfig
from sgr_kernel.runs import Runs, default_root

PLANNED = {
    "steps": [
        {"skill": "answer", "inputs": {"question": "one?"}},
        {"skill": "format", "inputs": {"template": "${s1.output.text} two"}},
    ]
}


def sgr(home: Path, *args: str, provider: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SGR_CRASH_AT"}
    env.update(SGR_HOME=str(home), SGR_PROVIDER=provider)
    return subprocess.run(
        [sys.executable, "-m", "sgr_kernel.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_cli_the_notebook_and_the_panel_show_one_summary(tmp_path: Path) -> None:
    from sgr_jupyter._views import runs_table

    replies = tmp_path / "replies.jsonl"
    lines = [PLANNED, {"reasoning": "-", "answer": "one"}]
    replies.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    home = tmp_path / "home"
    ran = sgr(home, "run", "say one, then two", "--json", provider=f"scripted:{replies}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    report = json.loads(ran.stdout)
    assert report["outputs"] == {"s1": {"text": "one"}, "s2": {"text": "one two"}}

    listed = sgr(home, "runs", "--json", provider="local")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["steps_total"], row["steps_committed"], row["steps"]) == (2, 2, 2)

    (summary,) = Runs(Kernel(KernelConfig(home=home))).summaries()
    assert {k: v for k, v in row.items() if k != "steps"} == summary.model_dump(mode="json")
    table = runs_table([summary])
    assert table.rows == [(summary.run_id, summary.name, "COMPLETED", 2, 2)]

    human = sgr(home, "runs", provider="local").stdout
    assert f"{summary.run_id}  COMPLETED  2/2 " in human


def test_an_empty_sgr_home_is_the_home_default_in_the_notebook_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sgr_jupyter.config import SgrConfig

    monkeypatch.setenv("SGR_HOME", "")
    assert SgrConfig().home == default_root() == Path("~/.sgr").expanduser()
    assert SgrConfig(home="").home == Path("~/.sgr").expanduser()  # the trait's default
