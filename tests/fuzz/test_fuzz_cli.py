"""Property-based fuzzing of the ``sgr`` command's arguments: every argv ends with a result or
one clear error line and its documented exit code (a JSON error object with ``--json``), never
a traceback or a hang, and a refused command leaves the store as it was."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest
from _strategies import NUMBER_TEXT
from _tally import Tally, bounded, one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgr_kernel.cli import main
from sgr_kernel.engine.kernel import Kernel, KernelConfig

PLAN = "name: ok\nsteps:\n  - {id: a, skill: format, inputs: {template: one}}\n"
RUN_IDS = ["missing", "../etc", "", "a/b", "x" * 300, "r\x00", "-h", "--json"]
STEPS = ["a", "zz", "", "../a", "a" * 500]
INPUTS = [
    '{"template": "two"}',
    "{",
    "[]",
    "null",
    '{"template": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"template": ' + "9" * 5000 + "}",
    '{"template": NaN}',
    '{"template": "x", "template": "y"}',
    "\udcff",
]


def _files(tmp: Path) -> list[str]:
    out = []
    for i, text in enumerate(
        [
            "steps: " + "[" * 3000 + "]" * 3000,
            "steps:\n  - {id: a, skill: format, inputs: {template: x}, timeout_s: .inf}\n",
            "steps:\n  - {id: a, skill: format, inputs: {template: x}}\n" * 2,
            "steps:\n  - {id: a, skill: format, inputs: {template: x}, capabilities: [netwrok]}",
            "",
            PLAN,
        ]
    ):
        p = tmp / f"p{i}.yaml"
        p.write_text(text)
        out.append(str(p))
    u16 = tmp / "u16.yaml"
    u16.write_bytes(PLAN.encode("utf-16"))
    bad = tmp / "bad.json"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    return [*out, str(u16), str(bad), str(tmp), "/dev/zero", str(tmp / "nope.yaml"), "./nope",
            "", "   ", "say hello to the user", "x" * 200_000, "~/missing/plan"]  # fmt: skip


@st.composite
def argvs(draw: st.DrawFn, files: list[str], run_id: str, tmp: Path) -> list[str]:
    cmd = draw(
        st.sampled_from(
            ["run", "runs", "show", "replay", "resume", "fork", "approve", "deny", "cancel",
             "export", "bogus", "--version"]
        )
    )  # fmt: skip
    ids = st.sampled_from([run_id, *RUN_IDS])
    argv: list[str] = []
    if draw(st.booleans()):
        argv += ["--home", draw(st.sampled_from([str(tmp / "home"), files[0], str(tmp / "h2")]))]
    argv.append(cmd)
    if cmd == "run":
        argv.append(draw(st.one_of(st.sampled_from(files), st.text(max_size=30))))
        for flag in ("--max-concurrency", "--max-steps", "--max-tokens", "--max-cost-usd",
                     "--max-wall-s", "--durability", "--approval", "--name"):  # fmt: skip
            if draw(st.integers(0, 3)) == 0:
                argv += [flag, draw(NUMBER_TEXT)]
    elif cmd in ("show", "replay", "resume", "cancel", "export"):
        argv.append(draw(ids))
        if cmd == "export" and draw(st.booleans()):
            argv += ["--out", draw(st.sampled_from([str(tmp / "no" / "x.json"), str(tmp),
                                                     str(tmp / "out.json")]))]  # fmt: skip
    elif cmd == "fork":
        argv += [draw(ids), "--from", draw(st.sampled_from(STEPS))]
        if draw(st.booleans()):
            argv += ["--inputs", draw(st.sampled_from(INPUTS))]
    elif cmd in ("approve", "deny"):
        argv += [draw(ids), draw(st.sampled_from(STEPS))]
        if draw(st.booleans()):
            argv += ["--wait-s", draw(NUMBER_TEXT)]
    if draw(st.booleans()):
        argv.append("--json")
    if draw(st.integers(0, 5)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(st.text(max_size=10)))
    return argv


def _runs(home: Path) -> set[str]:
    runs = home / "runs"
    return set(os.listdir(runs)) if runs.is_dir() else set()


def _call(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_cli_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    replies = tmp_path / "replies.jsonl"
    replies.write_text('"not a plan"\n')
    monkeypatch.setenv("SGR_HOME", str(home))
    monkeypatch.setenv("SGR_PROVIDER", f"scripted:{replies}")
    monkeypatch.delenv("SGR_DEBUG", raising=False)
    (tmp_path / "seed.yaml").write_text(PLAN)
    code, out, err = _call(["run", str(tmp_path / "seed.yaml"), "--json"])
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    files = _files(tmp_path)
    t = Tally("cli")

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(argvs(files, run_id, tmp_path))
    def case(argv: list[str]) -> None:
        t.cases += 1
        before = {h: _runs(h) for h in (home, tmp_path / "h2")}
        finished, res = bounded(lambda: _call(argv))
        what = repr(argv)[:300]
        if not finished:
            t.bad("hangs", what)
            return
        if isinstance(res, BaseException):
            t.bad("tracebacks", f"{type(res).__name__}: {res} <- {what}")
            return
        code, out, err = res
        if "Traceback (most recent call last)" in out + err or "unexpected" in err:
            t.bad("tracebacks", f"{err[-300:]} <- {what}")
            return
        if code in (2, 6):
            ok = one_line_error(err) and err.startswith("sgr: error:")
            if "--json" in argv and argv[-1] == "--json":
                try:
                    body = json.loads(out)
                    ok = ok and body["exit_code"] == code and bool(body["message"])
                except (ValueError, KeyError, TypeError):
                    ok = False
            if not ok:
                t.bad("tracebacks", f"unclear error {code}: {out[-200:]} {err[-200:]} <- {what}")
                return
            for h, runs in before.items():
                if _runs(h) != runs:
                    t.bad("state_damaged", f"a refused command wrote a run <- {what}")
                    return
            t.clear_errors += 1
        else:
            assert code in (0, 1, 3, 4, 5), (code, what)
            t.clean += 1

    case()
    # Every run in the store is whole: it loads, and none is stuck half-made in CREATED.
    kernel = Kernel(KernelConfig(home=home))
    for state in kernel.runs():
        if not state.run_id or state.status.value == "CREATED":
            t.bad("state_damaged", f"half-made run {state.run_id!r}")
    t.check()
