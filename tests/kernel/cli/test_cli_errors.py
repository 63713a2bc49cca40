"""The CLI's error boundary on the examples the issue reported: one line, the documented exit
code, a JSON error object with ``--json``, and nothing written. ``main`` runs in this process
(the same code path as the console script, without an interpreter start per case); one test
runs the real command to pin the process-level behaviour."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sgr_kernel.cli import main

SGR = [sys.executable, "-m", "sgr_kernel.cli"]
OK = "steps:\n  - {id: a, skill: format, inputs: {template: one}}\n"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def sgr(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    changes = {"SGR_HOME": str(home), "SGR_DEBUG": "", **(env or {})}
    saved = {k: os.environ.get(k) for k in changes}
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.update(changes)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return Result(code, out.getvalue(), err.getvalue())


def runs(home: Path) -> list[str]:
    d = home / "runs"
    return sorted(os.listdir(d)) if d.is_dir() else []


def refused(r: Result, code: int = 2) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.startswith("sgr: error:"), r.stderr
    return r.stderr


def write(tmp: Path, name: str, text: str) -> str:
    p = tmp / name
    p.write_text(text)
    return str(p)


def test_refused_runs_leave_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bomb = "\n".join(
        ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
        + ["steps:", "  - {id: a, skill: format, inputs: {template: x, extra: *a8}}"]
    )
    cases = {
        "inf timeout": write(tmp_path, "inf.yaml", OK.replace("one}", "one}, timeout_s: .inf")),
        "nested bomb": write(tmp_path, "bomb.yaml", bomb),
        "duplicate steps": write(tmp_path, "dup.yaml", OK + OK.replace("a,", "b,")),
        "deep": write(tmp_path, "deep.yaml", "steps: " + "[" * 10_000 + "]" * 10_000),
        "big int": write(tmp_path, "int.yaml", OK.replace("one", "9" * 5000)),
        "misspelt grant": write(
            tmp_path, "cap.yaml", OK.replace("one}", "one}, capabilities: [netwrok]")
        ),
    }
    u16 = tmp_path / "u16.yaml"
    u16.write_bytes(OK.encode("utf-16"))
    cases["utf-16"] = str(u16)
    for what, path in cases.items():
        err = refused(sgr(home, "run", path))
        assert path in err or "netwrok" in err, what
    for target in (str(tmp_path), "/dev/zero", "", "./plans/missing", "missing.yaml"):
        refused(sgr(home, "run", target))
    refused(sgr(home, "run", "hello there", "--max-concurrency", "0"))
    refused(sgr(home, "run", "hello there", "--max-cost-usd", "nan"))
    refused(sgr(home, "run", write(tmp_path, "ok.yaml", OK), env={"SGR_PROVIDER": "bogus"}))
    err = refused(sgr(home, "run", "say hi", env={"SGR_PROVIDER": f"scripted:{tmp_path}/no.jsonl"}))
    assert "no.jsonl" in err
    assert runs(home) == []


def test_json_errors_and_debug(tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = sgr(home, "run", str(tmp_path), "--json")
    refused(r)
    body = json.loads(r.stdout)
    assert body["error"] == "usage" and body["exit_code"] == 2 and "directory" in body["message"]
    assert "Traceback" in sgr(home, "run", str(tmp_path), "--debug").stderr
    assert "Traceback" in sgr(home, "run", str(tmp_path), env={"SGR_DEBUG": "1"}).stderr
    assert "Traceback" not in sgr(home, "run", str(tmp_path)).stderr
    r = sgr(home, "bogus", "--json")
    refused(r)
    assert json.loads(r.stdout)["type"] == "ArgumentError"


def test_other_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = sgr(home, "run", write(tmp_path, "ok.yaml", OK), "--json")
    assert r.returncode == 0, r.stderr
    run_id = json.loads(r.stdout)["run_id"]
    for bad in (
        "{",
        "[]",
        '{"template": ' + "[" * 10_000 + "]" * 10_000 + "}",
        '{"t": ' + "9" * 5000 + "}",
    ):
        refused(sgr(home, "fork", run_id, "--from", "a", "--inputs", bad))
    refused(sgr(home, "export", run_id, "--out", str(tmp_path / "no" / "x.json")))
    refused(sgr(home, "--home", write(tmp_path, "file", "x"), "runs"))
    refused(sgr(home, "resume", run_id))
    assert runs(home) == [run_id]


def test_terminal_escapes_are_not_printed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    name = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;aGk=\x07name"
    assert sgr(home, "run", write(tmp_path, "ok.yaml", OK), "--name", name).returncode == 0
    out = sgr(home, "runs").stdout
    assert "name" in out and "\x1b" not in out and "\x07" not in out


@pytest.mark.parametrize("flag", ["--max-steps", "--max-tokens", "--max-wall-s", "--max-cost-usd"])
def test_budget_flags_bounded(tmp_path: Path, flag: str) -> None:
    for value in ("-1", "nan", "inf", "1e999", "9" * 5000):
        refused(sgr(tmp_path, "run", "hello there", flag, value))


def test_the_real_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SGR_CRASH_AT", "SGR_DEBUG")}
    env["SGR_HOME"] = str(tmp_path)
    r = subprocess.run(
        [*SGR, "run", str(tmp_path), "--json"], capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 2 and json.loads(r.stdout)["exit_code"] == 2
    assert r.stderr.startswith("sgr: error:") and "Traceback" not in r.stderr
