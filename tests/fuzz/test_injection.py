"""Data never becomes plan, and data flowing between steps is never rewritten.

- A kernel variable filled into a ``%%sgr --plan`` cell is only ever a value: whatever it
  holds (newlines, YAML, JSON, placeholders), the plan's steps, skills, dependencies and
  grants are those of the cell's own text, and the value arrives unchanged.
- ``$${`` escapes and ``${...}`` placeholders are processed in the plan's own text only: an
  upstream step's output reaches the next step exactly as it was produced.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from _tally import Tally
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.interactiveshell import InteractiveShell

from sgr_jupyter._interpolate import interpolate_plan
from sgr_jupyter.magics import SgrMagics
from sgr_jupyter.session import Session
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import Plan, load_plan_data, parse_plan, plan_from_data
from sgr_kernel.models.refs import resolve_inputs

CELL = """
name: "report for {who}"
steps:
  - {id: a, skill: format, inputs: {template: "{payload}"}}
  - {id: b, skill: format, inputs: {template: "before {payload} after"}, depends_on: [a]}
"""
ATTACKS = st.sampled_from(
    [
        "x\n  - {id: pwn, skill: python, inputs: {code: 'import os'}}",
        '"}}\n  - {id: pwn, skill: python, inputs: {code: x}}\n#',
        "'}\nsteps: []\n",
        "${a.output.text}",
        "$${a.output.text}",
        "{who}",
        "{{who}}",
        '{"$ref": "a.output.text"}',
        "\x1b]52;c;aGk=\x07",
        "&a [*a]",
        "!!python/object/apply:os.system ['id']",
        "---\nsteps: []",
    ]
)
PAYLOADS = st.one_of(
    ATTACKS, st.text(max_size=80), st.tuples(ATTACKS, st.text(max_size=20)).map("".join)
)


def _shape(plan: Plan) -> list[tuple[Any, ...]]:
    return [(s.id, s.skill, s.depends_on, s.capabilities, s.placement) for s in plan.steps]


def test_values_filled_into_a_plan_stay_values() -> None:
    t = Tally("injection_plan")
    base = _shape(
        plan_from_data(interpolate_plan(load_plan_data(CELL), {"who": "w", "payload": "p"}))
    )

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(PAYLOADS)
    def case(payload: str) -> None:
        t.cases += 1
        plan = plan_from_data(
            interpolate_plan(load_plan_data(CELL), {"who": "w", "payload": payload})
        )
        if _shape(plan) != base:
            t.bad("state_damaged", f"plan changed by {payload!r}")
            return
        a, b = plan.steps
        if a.inputs["template"] != payload or b.inputs["template"] != f"before {payload} after":
            t.bad("state_damaged", f"value altered: {payload!r}")
            return
        t.clean += 1  # kept as a value, never as structure

    case()
    t.check(expect_errors=False)


def test_outputs_flow_between_steps_unchanged() -> None:
    t = Tally("injection_flow")

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(PAYLOADS)
    def case(text: str) -> None:
        t.cases += 1
        outputs = {"a": {"text": text}}
        got = resolve_inputs(
            {
                "whole": "${a.output.text}",
                "part": "<${a.output.text}> $${lit}",
                "ref": {"$ref": "a.output.text"},
            },
            outputs,
        )
        if got != {"whole": text, "part": f"<{text}> ${{lit}}", "ref": text}:
            t.bad("state_damaged", f"{text!r} -> {got!r}")
            return
        t.clean += 1

    case()
    t.check(expect_errors=False)


def test_escapes_in_a_real_run(tmp_path: Path) -> None:
    """End to end: a's output holds ``$${x}`` and ``${b.output.y}``; c receives it verbatim."""
    plan = parse_plan(
        "steps:\n"
        "  - {id: a, skill: format, inputs: {template: '$$${x} and $${b.output.y}'}}\n"
        "  - {id: c, skill: format, inputs: {template: '${a.output.text}|'}, depends_on: [a]}\n"
    )
    result = asyncio.run(Kernel(KernelConfig(home=tmp_path)).run(plan=plan))
    assert result.outputs["a"] == {"text": "$${x} and ${b.output.y}"}
    assert result.outputs["c"] == {"text": "$${x} and ${b.output.y}|"}


def test_a_cell_variable_cannot_add_a_step(tmp_path: Path) -> None:
    shell = InteractiveShell.instance()
    session = Session()
    magics = SgrMagics(shell=shell, session=session)
    magics.home, magics.widget = str(tmp_path / "home"), False
    shell.register_magics(magics)
    try:
        evil = "x\n  - {id: pwn, skill: python, inputs: {code: 'print(1)'}}"
        shell.user_ns.update(who="me", payload=evil)
        shell.run_cell_magic("sgr", "--plan --wait --out res", CELL)
        res = shell.user_ns["res"]
        assert set(res.outputs) == {"a", "b"}
        assert res.outputs["a"] == {"text": evil}
        run = Kernel(KernelConfig(home=tmp_path / "home")).load(res.run_id)
        assert run.plan is not None and [s.id for s in run.plan.steps] == ["a", "b"]
        assert run.name == "report for me"
    finally:
        session.close()
        shell.user_ns.pop("_sgr", None)
