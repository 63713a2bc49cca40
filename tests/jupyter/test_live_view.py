"""The RunView's live contract (docs/jupyter.md, "Widget model") against the real agent kernel.

The model is the scripted provider (offline, deterministic); everything else is real: the
session's loop thread, the kernel, its journal, the WAL and the widget's fold.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from pydantic import BaseModel

from sgr_jupyter import magics as magics_module
from sgr_jupyter._answer import RunAnswer
from sgr_jupyter.magics import SgrMagics
from sgr_jupyter.session import Session
from sgr_jupyter.widgets import RunView
from sgr_kernel.skills import registry
from sgr_kernel.skills.base import Skill

PLAN_REPLY = {"steps": [{"skill": "answer", "inputs": {"question": "Capital of France?"}}]}
ANSWER_REPLY = {"reasoning": "It is well known.", "answer": "**Paris** is the capital."}

GATED = """
name: gated
steps:
  - id: hello
    skill: format
    inputs: {template: "hello {who}"}
  - id: gate
    skill: format
    requires_approval: true
    inputs: {template: "approved: ${hello.output.text}"}
"""


def _script(path: Path, *replies: Any) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in replies), encoding="utf-8")
    return f"scripted:{path}"


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[InteractiveShell]:
    sh = InteractiveShell.instance()
    sh.config.pop("SgrMagics", None)  # %config in other tests must not leak in
    session = Session()
    magics = SgrMagics(shell=sh, session=session)
    magics.home = str(tmp_path / "home")
    magics.widget = False
    magics.durability = "none"
    sh.register_magics(magics)
    sh.user_ns["who"] = "world"
    yield sh
    session.close()
    for name in ("_sgr", "res", "who"):
        sh.user_ns.pop(name, None)


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the magics display in the cell (IPython's display, captured)."""
    seen: list[Any] = []
    monkeypatch.setattr(magics_module, "display", seen.append)
    return seen


def _until(pred: Any, what: str, tries: int = 600) -> None:
    tick = threading.Event()
    for _ in range(tries):
        if pred():
            return
        tick.wait(0.05)
    raise AssertionError(f"never happened: {what}")


def test_planning_and_answer_tokens_stream_into_the_view_before_the_step_ends(
    shell: InteractiveShell, tmp_path: Path, shown: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_running: list[str] = []
    feed = RunView.feed

    def spy(self: RunView, rec: Any, schedule: Any = None) -> None:
        feed(self, rec, schedule)
        if rec.data.get("kind") == "token" and rec.step == "s1":
            seen_running.append(self.fold.states().get("s1", "?"))

    monkeypatch.setattr(RunView, "feed", spy)
    provider = _script(tmp_path / "r.jsonl", PLAN_REPLY, ANSWER_REPLY)
    shell.run_cell_magic("sgr", f"--provider {provider} --wait --out res", "Capital of France?")
    view = shell.user_ns["_sgr"].view
    view.flush()
    # Tokens were folded in while the step was still RUNNING: text before the step ends.
    assert seen_running and set(seen_running) == {"RUNNING"}
    assert '"answer"' in view.stream["__plan__"]
    assert "**Paris** is the capital." in view.stream["s1"]
    assert view.phase == "COMPLETED" and view.status == "COMPLETED"
    assert view.answer == "**Paris** is the capital."
    # Planning is not a step of the user's plan: not counted, not drawn, not named.
    assert view.states == {"s1": "COMMITTED"} and "__plan__" not in view.nodes
    assert view.t0 > 0 and view.elapsed >= 0 and view.errors == {}
    assert view.started["s1"] >= view.started["__plan__"] >= 0
    # The answer is shown as Markdown after the widget, and --out binds it.
    md = [d for d in shown if type(d).__name__ == "Markdown"]
    assert [m.data for m in md] == ["**Paris** is the capital."]
    res = shell.user_ns["res"]
    assert isinstance(res, RunAnswer) and str(res) == "**Paris** is the capital."
    assert res.outputs == {"s1": {"text": "**Paris** is the capital."}}
    assert str(res.status) == "COMPLETED" and res.run_id == view.run_id


def test_waiting_for_approval_is_its_own_phase_and_details_show_resolved_inputs(
    shell: InteractiveShell,
) -> None:
    shell.run_cell_magic("sgr", "--plan --out res", GATED)
    ctl = shell.user_ns["_sgr"]
    view = ctl.view
    _until(lambda: view.phase == "WAITING_FOR_APPROVAL", "the phase says WAITING_FOR_APPROVAL")
    _until(lambda: view.heartbeat >= 1, "a heartbeat while the run waits")
    view.select("gate")
    detail = view.detail
    assert detail["inputs"] == {"template": "approved: hello world"}  # not ${hello.output.text}
    assert detail["inputs_pending"] == [] and detail["error"] == ""
    assert "asks for your approval" in detail["waiting_reason"]
    assert view.approvals == {"gate": detail["waiting_reason"]}
    ctl.approve("gate")
    ctl.wait(timeout=60)
    view.flush()
    view.select("gate")
    assert view.phase == "COMPLETED" and view.answer == "approved: hello world"
    assert view.detail["error"] == "" and view.detail["waiting_reason"] == ""
    assert view.errors == {} and view.approvals == {}
    beats = view.heartbeat
    view.flush()
    assert view.heartbeat == beats  # a finished run's heartbeat stands still


def test_resume_of_a_live_run_reattaches_a_new_view(shell: InteractiveShell) -> None:
    shell.run_cell_magic("sgr", "--plan", GATED)
    first = shell.user_ns["_sgr"]
    _until(lambda: first.view.phase == "WAITING_FOR_APPROVAL", "the first view waits")
    shell.run_line_magic("sgr", f"resume {first.run_id}")
    again = shell.user_ns["_sgr"]
    assert again is first and again.view is not None
    second = again.view
    assert second.run_id == first.run_id
    _until(lambda: second.phase == "WAITING_FOR_APPROVAL", "the new view is seeded")
    assert second.states == {"hello": "COMMITTED", "gate": "WAITING_APPROVAL"}
    second._handle_msg(
        {
            "content": {
                "data": {"method": "custom", "content": {"type": "approve", "step": "gate"}}
            },
            "buffers": [],
        }
    )
    again.wait(timeout=60)
    second.flush()
    assert second.phase == "COMPLETED" and second.answer == "approved: hello world"
    with pytest.raises(UsageError, match="already ended COMPLETED"):
        shell.run_line_magic("sgr", f"resume {first.run_id}")


def test_context_cells_reach_the_task_and_formats_shape_the_answer(
    shell: InteractiveShell, tmp_path: Path, shown: list[Any]
) -> None:
    shell.run_cell("numbers = [3, 1, 2]", store_history=True)
    shell.run_cell("sorted(numbers)", store_history=True)
    reply = {"reasoning": "r", "answer": '{"smallest": 1}'}
    provider = _script(tmp_path / "r.jsonl", PLAN_REPLY, reply)
    line = f"--provider {provider} --context 2 --format json --wait --out res"
    shell.run_cell_magic("sgr", line, "What is the smallest number?")
    ctl = shell.user_ns["_sgr"]
    task = ctl.show()
    text = task.get("task") if isinstance(task, dict) else getattr(task, "task", None)
    if text is None:  # the kernel's trace view may keep the task on its run state
        text = ctl._kernel.store.read(ctl.run_id).records[0].data["task"]
    assert "numbers = [3, 1, 2]" in text and "[Out " in text and "[1, 2, 3]" in text
    assert text.rstrip().endswith("Task: What is the smallest number?")
    res = shell.user_ns["res"]
    assert res.answer == {"smallest": 1} and res.format == "json"
    assert [type(d).__name__ for d in shown if type(d).__name__ in ("JSON", "Markdown")] == ["JSON"]


def test_context_names_a_missing_cell(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError, match=r"no earlier cell In\[999\]"):
        shell.run_cell_magic("sgr", "--context In[999]", "explain")


def test_skills_and_models_are_listed(shell: InteractiveShell) -> None:
    skills = shell.run_line_magic("sgr", "skills")
    names = [row[0] for row in skills.rows]
    assert {"answer", "format", "python"} <= set(names)
    python = next(r for r in skills.rows if r[0] == "python")
    assert "sandbox" in python[3] and python[2] != "none"
    models = shell.run_line_magic("sgr", "models")
    assert any(n.startswith("configured: ") for n in models.notes)
    assert models.columns == ("model", "source", "size", "loads", "path")
    for row in models.rows:
        assert row[2].endswith(" MB") and row[3] == "not checked"


def test_displaying_the_run_again_gives_a_new_view_live_then_final(
    shell: InteractiveShell,
) -> None:
    shell.run_cell_magic("sgr", "--plan", GATED)
    ctl = shell.user_ns["_sgr"]
    first = ctl.view
    _until(lambda: first.phase == "WAITING_FOR_APPROVAL", "the gate waits")
    bundle = ctl._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    live = ctl.view
    assert live is not first and live.run_id == first.run_id
    assert "gated" in data["text/plain"]
    _until(lambda: live.phase == "WAITING_FOR_APPROVAL", "the new view is live")
    ctl.approve("gate")
    ctl.wait(timeout=60)
    live.flush()
    assert live.phase == "COMPLETED" and live.answer == "approved: hello world"
    from sgr_jupyter._reattach import view_of

    final = view_of(ctl)  # after the end: a view folded from the log, not attached
    assert final is not live and ctl.view is live
    assert final.phase == "COMPLETED" and final.answer == "approved: hello world"
    assert final.states == {"hello": "COMMITTED", "gate": "COMMITTED"}


_TICKS = [0]


class _TickIn(BaseModel):
    pass


class _TickOut(BaseModel):
    n: int


class _Tick(Skill):
    """Not deterministic on purpose: each run gives a new number, so a replay diverges."""

    name = "live_view_tick"
    description = "A counter that moves on every call."
    Input, Output = _TickIn, _TickOut

    async def run(self, ctx: Any, inputs: _TickIn) -> _TickOut:
        _TICKS[0] += 1
        return _TickOut(n=_TICKS[0])


def test_a_diverging_replay_shows_its_report(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry._LOCAL, _Tick.name, _Tick)  # this test's kernels only
    plan = "name: ticks\nsteps:\n  - {id: t, skill: live_view_tick, inputs: {}}\n"
    shell.run_cell_magic("sgr", "--plan --wait", plan)
    run_id = shell.user_ns["_sgr"].run_id
    report = shell.run_line_magic("sgr", f"replay {run_id}")
    text = repr(report)
    assert text.startswith("strict replay") and "divergence:" in text, text
    assert "no divergence" not in text


class _Slot:
    def __init__(self) -> None:
        self.updates: list[Any] = []

    def update(self, obj: Any) -> None:
        self.updates.append(obj)


def test_a_cell_that_returns_at_once_gets_its_answer_below_the_widget(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[tuple[Any, bool]] = []
    slot = _Slot()

    def display(obj: Any, display_id: bool = False) -> Any:
        shown.append((obj, display_id))
        return slot if display_id else None

    monkeypatch.setattr(magics_module, "display", display)
    shell.run_line_magic("config", "SgrMagics.widget = True")
    shell.run_cell_magic("sgr", "--plan", GATED)
    ctl = shell.user_ns["_sgr"]
    # The widget, then an empty Markdown slot (nothing to show yet).
    assert [type(o).__name__ for o, _ in shown] == ["RunView", "Markdown"]
    assert shown[1][1] is True and shown[1][0].data == ""
    _until(lambda: ctl.view.phase == "WAITING_FOR_APPROVAL", "the gate waits")
    assert slot.updates == []
    ctl.approve("gate")
    ctl.wait(timeout=60)
    _until(lambda: bool(slot.updates), "the slot is filled")
    assert [type(u).__name__ for u in slot.updates] == ["Markdown"]
    assert slot.updates[0].data == "approved: hello world"
