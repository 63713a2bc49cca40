"""The RunView shows each step's effective capabilities, and its text forms are terminal-safe."""

from __future__ import annotations

from sgr_jupyter.magics import _grants_of
from sgr_jupyter.widgets import RunView
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import parse_plan

PLAN = parse_plan(
    'name: "\\e]0;title\\a\\e[2Jcaps"\n'
    "steps:\n"
    "  - {id: a, skill: answer, inputs: {question: q}}\n"
    "  - {id: f, skill: format, inputs: {template: x}}\n"
)


def test_effective_capabilities_in_the_widget(tmp_path) -> None:  # type: ignore[no-untyped-def]
    grants = _grants_of(Kernel(KernelConfig(home=tmp_path)))
    view = RunView(plan=PLAN, capabilities=grants)
    assert view.grants == {"a": ["llm"], "f": []}
    view.select("a")
    assert view.detail["capabilities"] == "llm"
    view.select("f")
    assert view.detail["capabilities"] == "none"
    text = repr(view) + view._static[0]
    assert "caps" in text and "\x1b" not in text and "\x07" not in text
