"""The `sgr` command end to end, as a user runs it: real processes, a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SGR = [sys.executable, "-m", "sgr_kernel.cli"]

CHAIN = """
name: chain
steps:
  - {id: a, skill: format, inputs: {template: one}}
  - {id: b, skill: format, inputs: {template: "${a.output.text} two"}}
  - {id: c, skill: format, inputs: {template: "${b.output.text} three"}}
  - {id: d, skill: format, inputs: {template: "${c.output.text} four"}}
"""


def sgr(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "SGR_CRASH_AT"}
    full.update(SGR_HOME=str(home), **(env or {}))
    return subprocess.run(
        [*SGR, *args], capture_output=True, text=True, env=full, timeout=120, check=False
    )


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    p = tmp_path / "chain.yaml"
    p.write_text(CHAIN)
    return p


def test_run_show_replay_json(tmp_path: Path, plan_file: Path) -> None:
    home = tmp_path / "home"
    r = sgr(home, "run", str(plan_file), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "COMPLETED"
    assert out["outputs"]["d"] == {"text": "one two three four"}
    run_id = out["run_id"]

    view = json.loads(sgr(home, "show", run_id, "--json").stdout)
    assert view["run_id"] == run_id and view["status"] == "COMPLETED"
    assert [s["id"] for s in view["steps"]] == ["a", "b", "c", "d"]
    assert {s["status"] for s in view["steps"]} == {"COMMITTED"}
    assert all(s["attempts"] == 1 and s["error"] is None for s in view["steps"])

    rep = sgr(home, "replay", run_id, "--json")
    assert rep.returncode == 0, rep.stdout + rep.stderr
    report = json.loads(rep.stdout)
    assert report["divergences"] == [] and report["live_calls"] == 0
    assert report["steps_replayed"] == 4

    runs = json.loads(sgr(home, "runs", "--json").stdout)
    assert [r["run_id"] for r in runs] == [run_id]


def test_resume_after_kill(tmp_path: Path, plan_file: Path) -> None:
    """Killed (SIGKILL) right after the second step was acknowledged; resume finishes the run
    without re-running the committed steps."""
    home = tmp_path / "home"
    r = sgr(home, "run", str(plan_file), "--json", env={"SGR_CRASH_AT": "steps_acknowledged:2"})
    assert r.returncode == -9, (r.returncode, r.stderr)
    run_id = json.loads(sgr(home, "runs", "--json").stdout)[0]["run_id"]
    before = json.loads(sgr(home, "show", run_id, "--json").stdout)
    done = [s["id"] for s in before["steps"] if s["status"] == "COMMITTED"]
    assert done == ["a", "b"]

    r = sgr(home, "resume", run_id, "--json")
    assert r.returncode == 0, r.stderr
    after = json.loads(sgr(home, "show", run_id, "--json").stdout)
    assert after["status"] == "COMPLETED"
    assert {s["id"]: s["attempts"] for s in after["steps"]} == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert after["steps"][-1]["output"] == {"text": "one two three four"}
    rep = json.loads(sgr(home, "replay", run_id, "--json").stdout)
    assert rep["divergences"] == [] and rep["live_calls"] == 0
    print(f"FIGURE cli_resume killed_after=2 committed_rerun=0 final={after['status']}")


def test_approve_and_deny_across_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    plan = tmp_path / "gate.yaml"
    plan.write_text(
        """
steps:
  - {id: a, skill: format, inputs: {template: x}}
  - {id: gate, skill: format, requires_approval: true, inputs: {template: "${a.output.text}!"}}
  - {id: after, skill: format, inputs: {template: "${gate.output.text}"}}
"""
    )
    r = sgr(home, "run", str(plan), "--json")
    assert r.returncode == 3, r.stderr  # PAUSED, waiting for approval
    run_id = json.loads(r.stdout)["run_id"]
    bad = sgr(home, "approve", run_id, "a")
    assert bad.returncode == 2 and "not waiting for approval" in bad.stderr
    r = sgr(home, "deny", run_id, "gate", "--reason", "not today", "--json")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    st = {s["id"]: s for s in out["steps"]}
    assert st["gate"]["status"] == "FAILED" and "not today" in st["gate"]["error"]
    assert st["after"]["status"] == "SKIPPED"
    again = sgr(home, "deny", run_id, "gate")
    assert again.returncode == 2  # a second decision is refused, the trace unchanged


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("show", "no-such-run"), "no run 'no-such-run'"),
        (("run", "missing.yaml"), "does not exist"),
        (("resume", "no-such-run"), "sgr runs"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    r = sgr(tmp_path / "home", *args)
    assert r.returncode == 2 and needle in r.stderr, r.stderr


def test_malformed_and_invalid_plans_run_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [ {id: a, skill: format, inputs: {template: x}\n")
    r = sgr(home, "run", str(bad))
    assert r.returncode == 2 and "not valid YAML" in r.stderr
    cyc = tmp_path / "cycle.yaml"
    cyc.write_text(
        "steps:\n  - {id: a, skill: format, depends_on: [b], inputs: {template: x}}\n"
        "  - {id: b, skill: nope, depends_on: [a]}\n"
    )
    r = sgr(home, "run", str(cyc))
    assert r.returncode == 2
    assert "cycle" in r.stderr and "unknown skill 'nope'" in r.stderr
    assert json.loads(sgr(home, "runs", "--json").stdout) == []
