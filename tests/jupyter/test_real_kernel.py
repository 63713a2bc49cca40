"""The magics against the real agent kernel (format steps: no model needed)."""

from __future__ import annotations

import threading

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sgr_jupyter.magics import SgrMagics
from sgr_jupyter.session import Session

PLAN = """
name: greet
steps:
  - id: hello
    skill: format
    inputs: {template: "hello {who}"}
  - id: gate
    skill: format
    requires_approval: true
    inputs: {template: "approved: ${hello.output.text}"}
"""


@pytest.fixture
def shell(tmp_path):
    sh = InteractiveShell.instance()
    sh.config.pop("SgrMagics", None)  # %config in other tests must not leak in
    session = Session()
    magics = SgrMagics(shell=sh, session=session)
    magics.home = str(tmp_path)
    magics.widget = False
    magics.durability = "none"
    sh.register_magics(magics)
    sh.user_ns["who"] = "world"
    yield sh
    session.close()


def test_approve_a_live_run_then_show_and_replay(shell) -> None:
    shell.run_cell_magic("sgr", "--plan --out res", PLAN)
    ctl = shell.user_ns["_sgr"]
    tick = threading.Event()
    for _ in range(400):
        if ctl.view.fold.waiting() == ["gate"]:
            break
        tick.wait(0.05)
    assert not ctl.done
    _click(ctl.view, {"type": "approve", "step": "gate"})
    assert ctl.view.notice == ""
    result = ctl.wait(timeout=60)
    assert result.status == "COMPLETED"
    assert shell.user_ns["res"].outputs["gate"] == {"text": "approved: hello world"}
    ctl.view.flush()
    assert ctl.view.states == {"hello": "COMMITTED", "gate": "COMMITTED"}
    with pytest.raises(UsageError, match="not waiting"):
        shell.run_line_magic("sgr", f"approve {ctl.run_id} gate")
    assert "COMMITTED" in repr(shell.run_line_magic("sgr", f"show {ctl.run_id}"))
    report = repr(shell.run_line_magic("sgr", f"replay {ctl.run_id}"))
    assert "no divergence" in report
    with pytest.raises(UsageError, match="no run 'r-missing'"):
        shell.run_line_magic("sgr", "show r-missing")


def test_invalid_plan_is_refused_before_anything_runs(shell, tmp_path) -> None:
    bad = "steps:\n  - {id: a, skill: no_such_skill}\n"
    with pytest.raises(UsageError) as info:
        shell.run_cell_magic("sgr", "--plan --wait", bad)
    assert type(info.value) is UsageError and "no_such_skill" in str(info.value)
    assert "0 run(s)" in repr(shell.run_line_magic("sgr", "runs"))


def _click(view, content) -> None:
    """Deliver a front-end message the way the comm does (ipywidgets' own handler)."""
    view._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})
