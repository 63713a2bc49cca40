"""Property-based fuzzing of the magics: the ``%%sgr``/``%sgr`` argument parser, and whole
plan cells through a real InteractiveShell, session and kernel. Every input ends with a result
or IPython's own ``UsageError`` (one line, no traceback); a refused cell writes no run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _strategies import NUMBER_TEXT, PLAN_TEXTS
from _tally import Tally, bounded, one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sgr_jupyter import _args as a
from sgr_jupyter.magics import SgrMagics
from sgr_jupyter.session import Session

FLAGS = ["--plan", "--wait", "--name", "--provider", "--model", "--approval", "--durability",
         "--budget-tokens", "--budget-usd", "--budget-wall", "--budget-steps",
         "--budget-llm-calls", "--out", "--help", "-h", "--bogus", "runs", "show", "fork",
         "--from", "--input", "approve", "deny", "cancel", "resume", "replay", "--limit",
         "sandbox", "config", "doctor", "--context", "--format", "In[2]", "In[", "json",
         "skills", "models", "--check"]  # fmt: skip
TOKENS = st.one_of(
    st.sampled_from(FLAGS), NUMBER_TEXT, st.text(max_size=12), st.just('"'), st.just("'")
)
LINES = st.one_of(st.lists(TOKENS, max_size=6).map(" ".join), st.text(max_size=60))
SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def _judge(t: Tally, fn, what: str, *, runs_dir: Path | None = None) -> None:  # type: ignore[no-untyped-def]
    t.cases += 1
    before = set(os.listdir(runs_dir)) if runs_dir is not None and runs_dir.is_dir() else set()
    finished, out = bounded(fn)
    if not finished:
        t.bad("hangs", what)
    elif type(out) is UsageError:  # the exact class: IPython prints just the line
        if not one_line_error(str(out)) or "unexpected" in str(out):
            t.bad("tracebacks", f"unclear: {out} <- {what}")
            return
        if runs_dir is not None and runs_dir.is_dir() and set(os.listdir(runs_dir)) != before:
            t.bad("state_damaged", f"a refused cell wrote a run <- {what}")
            return
        t.clear_errors += 1
    elif isinstance(out, BaseException):
        t.bad("tracebacks", f"{type(out).__name__}: {out} <- {what}")
    else:
        t.clean += 1


def test_argument_parser() -> None:
    t = Tally("magic_args")

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(LINES, st.text(max_size=40))
    def case(line: str, body: str) -> None:
        _judge(t, lambda: a.parse_cell_line(line, body), repr((line, body)))
        if line.strip():
            _judge(t, lambda: a.parse_line(line), repr(line))

    case()
    t.check()


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[tuple[InteractiveShell, Path]]:
    shell = InteractiveShell.instance()
    shell.config.pop("SgrMagics", None)
    session = Session()
    magics = SgrMagics(shell=shell, session=session)
    magics.home = str(tmp_path / "home")
    magics.widget = False
    shell.register_magics(magics)
    yield shell, tmp_path / "home" / "runs"
    session.close()
    shell.user_ns.pop("_sgr", None)


def test_plan_cells(shell: tuple[InteractiveShell, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    sh, runs = shell
    monkeypatch.delenv("SGR_DEBUG", raising=False)
    sh.user_ns.update(who="world", n=3, evil="x\n  - {id: pwn, skill: python, inputs: {}}")
    t = Tally("magic_cells")
    lines = st.one_of(
        st.just("--plan --wait"),
        st.sampled_from(["bogus", "scripted:/nope", "local", ""]).map(
            lambda p: f"--plan --wait --provider '{p}'"
        ),
        st.tuples(st.sampled_from(["--budget-usd", "--budget-steps"]), NUMBER_TEXT).map(
            lambda f: f"--plan --wait {f[0]} '{f[1]}'"
        ),
    )
    bodies = st.one_of(
        PLAN_TEXTS,
        st.sampled_from(["{who}", "{missing}", "{{who}}", "{evil}", "{n}", "${a.output.text}"]).map(
            lambda v: f'steps:\n  - {{id: a, skill: format, inputs: {{template: "{v}"}}}}\n'
        ),
    )

    @settings(
        max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=SLOW
    )
    @given(lines, bodies)
    def case(line: str, body: str) -> None:
        _judge(t, lambda: sh.run_cell_magic("sgr", line, body), repr((line, body[:200])),
               runs_dir=runs)  # fmt: skip

    case()
    good = 'steps:\n  - {id: a, skill: format, inputs: {template: "hi {who}"}}\n'
    _judge(t, lambda: sh.run_cell_magic("sgr", "--plan --wait", good), "a good cell")
    assert t.clean >= 1, "the control cell must run"
    for line in ("show ../x", "fork missing --from a --input a.b=" + "[" * 3000, "runs --limit -1"):
        _judge(t, lambda ln=line: sh.run_line_magic("sgr", ln), line)  # type: ignore[misc]
    t.check()
