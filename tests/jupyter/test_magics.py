"""The magics through a real InteractiveShell and real kernels: parse, dispatch, display,
errors."""

from __future__ import annotations

import re
import threading

import pytest
from IPython.core.error import UsageError

from sgr_jupyter.display import RunResultView
from sgr_jupyter.session import RunController
from sgr_kernel.models import RunStatus

PLAN = """
name: greet
steps:
  - id: hello
    skill: format
    inputs: {template: "hello {who}"}
  - id: gate
    skill: format
    requires_approval: true
    depends_on: [hello]
    inputs: {template: "open"}
  - id: done
    skill: format
    inputs: {template: "${hello.output.text}!"}
"""


def _cell(env, line: str, body: str):
    return env.shell.run_cell_magic("sgr", line, body)


def test_wait_runs_a_plan_to_completion_and_binds_out(env) -> None:
    env.shell.user_ns["who"] = "world"
    res = _cell(env, "--plan --wait --approval auto --out res", PLAN)
    assert isinstance(res, RunResultView)
    assert res.status == "COMPLETED"
    assert [s[:3] for s in res.steps] == [
        ("hello", "format", "COMMITTED"),
        ("gate", "format", "COMMITTED"),
        ("done", "format", "COMMITTED"),
    ]
    assert env.shell.user_ns["res"].outputs["done"] == {"text": "hello world!"}
    ctl = env.shell.user_ns["_sgr"]
    assert isinstance(ctl, RunController) and ctl.done
    plan = env.kernel("auto").load(ctl.run_id).plan
    assert plan is not None and plan.steps[0].inputs == {"template": "hello world"}
    text = repr(res)
    assert "run 'greet': COMPLETED" in text and "0x" not in text
    assert "<table>" in res._repr_html_()


def test_cell_returns_at_once_and_approval_is_taken_while_the_run_is_live(env) -> None:
    env.shell.user_ns["who"] = "x"
    assert _cell(env, "--plan", PLAN) is None  # returned while the run waits at the gate
    ctl: RunController = env.shell.user_ns["_sgr"]
    view = ctl.view
    assert view is not None
    waiting = threading.Event()
    _wait_until(ctl, lambda: "gate" in view.fold.waiting(), waiting)
    assert not ctl.done
    view.flush()
    assert view.waiting == ["gate"]
    # A click in the widget arrives as a custom message on the main thread.
    _click(view, {"type": "approve", "step": "gate"})
    assert view.notice == ""
    result = ctl.wait(timeout=30)
    assert result.status is RunStatus.COMPLETED
    view.flush()
    assert view.states == {"hello": "COMMITTED", "gate": "COMMITTED", "done": "COMMITTED"}
    assert view.status == "COMPLETED"
    # Double approval: the widget shows the refusal; the run is unaffected.
    _click(view, {"type": "approve", "step": "gate"})
    assert "is not waiting" in view.notice
    with pytest.raises(UsageError, match="is not waiting"):
        env.shell.run_line_magic("sgr", f"approve {ctl.run_id} gate")


def test_deny_from_the_line_fails_the_run(env) -> None:
    env.shell.user_ns["who"] = "x"
    _cell(env, "--plan --name denial", PLAN)
    ctl: RunController = env.shell.user_ns["_sgr"]
    assert ctl.view is not None
    _wait_until(ctl, lambda: "gate" in ctl.view.fold.waiting(), threading.Event())
    env.shell.run_line_magic("sgr", f"deny {ctl.run_id} gate --reason no")
    assert ctl.wait(timeout=30).status is RunStatus.FAILED


def test_task_cells_and_budgets_reach_the_kernel(env) -> None:
    env.shell.user_ns["region"] = "north"
    res = _cell(env, "--wait --budget-usd 0.5 --budget-steps 3", "Sum sales in {region}.")
    assert res.status == "COMPLETED"
    state = env.kernel().load(env.shell.user_ns["_sgr"].run_id)
    assert state.task == "Sum sales in north."
    budget = state.config["budget"]
    assert budget["max_cost_usd"] == 0.5 and budget["max_steps"] == 3


@pytest.mark.parametrize(
    ("line", "body", "needle"),
    [
        ("--bogus", "task", "unrecognized arguments"),
        ("--plan", "steps: [", "not valid YAML"),
        ("--plan", "steps:\n  - {id: a, skill: nope}", "unknown skill 'nope'"),
        ("", "hello {undefined_name}", "{undefined_name} is not defined"),
    ],
)
def test_bad_cells_are_usage_errors_and_start_nothing(env, line, body, needle) -> None:
    with pytest.raises(UsageError) as info:
        _cell(env, line, body)
    assert type(info.value) is UsageError
    assert needle in str(info.value)
    assert env.runs().summaries() == []


def test_unknown_run_ids_are_usage_errors(env) -> None:
    for line in ("show r-404", "approve r-404 gate", "cancel r-404", "replay r-404"):
        with pytest.raises(UsageError, match="no run 'r-404'"):
            env.shell.run_line_magic("sgr", line)


def test_run_cell_shows_usage_error_without_traceback(env, capsys) -> None:
    result = env.shell.run_cell("%sgr launch")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert "UsageError" in err and "invalid choice" in err and "Traceback" not in err


def test_show_runs_config_replay(env, capsys) -> None:
    env.shell.user_ns["who"] = "x"
    _cell(env, "--plan --wait --approval auto", PLAN)
    run_id = env.shell.user_ns["_sgr"].run_id
    table = env.shell.run_line_magic("sgr", f"show {run_id}")
    assert "hello" in repr(table) and "COMMITTED" in repr(table)
    shown = capsys.readouterr().out
    assert "flowchart TD" in shown and "class s_hello,s_gate,s_done sgr_committed" in shown
    assert "replay" in repr(env.shell.run_line_magic("sgr", f"replay {run_id}"))
    env.shell.run_line_magic("config", "SgrMagics.durability = 'none'")
    cfg = repr(env.shell.run_line_magic("sgr", "config"))
    assert re.search(r"^durability +none$", cfg, re.M)


def test_config_traits_become_one_frozen_value(env) -> None:
    env.shell.run_line_magic("config", "SgrMagics.budget_usd = 2.0")
    env.shell.run_line_magic("config", "SgrMagics.approval_mode = 'auto'")
    cfg = env.magics.frozen_config()
    assert cfg.approval_mode == "auto" and cfg.budget_dict == {"max_cost_usd": 2.0}
    narrowed = cfg.with_overrides(budget={"max_cost_usd": 5.0, "max_steps": 2})
    assert narrowed.budget_dict == {"max_cost_usd": 2.0, "max_steps": 2}  # stricter wins
    with pytest.raises(AttributeError):
        cfg.approval_mode = "ask"  # type: ignore[misc]


def _wait_until(ctl: RunController, cond, event: threading.Event) -> None:
    for _ in range(600):
        if cond():
            return
        event.wait(0.05)
    raise AssertionError("condition never held")


def _click(view, content) -> None:
    """Deliver a front-end message the way the comm does (ipywidgets' own handler)."""
    view._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})
