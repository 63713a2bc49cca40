"""Braces in ``%%sgr`` cells: only ``{name}`` fields outside code are filled (docs/jupyter.md,
"Braces in cells"); Python inside a plan reaches the sandbox exactly as written."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from sgr_jupyter import _args as a
from sgr_kernel.models.plan import load_plan_data, plan_from_data

NS = {"x": 41, "city": "Oslo", "items": [1, 2]}

CODE = """x = 1
name = "n"
print(f"{x} and {name!r} and {x:.2f} and {x + 1}")
d = {x: 1, "k": {name}}
s = {x}
print("{x}".format(x=3), "{{x}}")
"""

PLAN = f"""
name: braces {{city}}
steps:
  - id: code
    skill: python
    inputs:
      code: |
{"".join("        " + line + chr(10) for line in CODE.splitlines())}
  - id: note
    skill: format
    inputs:
      template: "in {{city}}: `{{x}}` stays, {{{{city}}}} is literal, {{a, b}} and {{x:.2f}} too"
"""


def _plan(text: str) -> dict:
    return a.interpolate_plan(load_plan_data(text, source="test"), NS)


def test_code_inputs_are_never_rewritten() -> None:
    data = _plan(PLAN)
    assert data["steps"][0]["inputs"]["code"] == CODE
    plan_from_data(data, source="test")  # still a valid plan


def test_text_inputs_fill_only_bare_names_outside_backticks() -> None:
    data = _plan(PLAN)
    assert data["name"] == "braces Oslo"
    assert data["steps"][1]["inputs"]["template"] == (
        "in Oslo: `{x}` stays, {city} is literal, {a, b} and {x:.2f} too"
    )


def test_a_whole_value_field_keeps_its_type() -> None:
    data = _plan("steps:\n  - id: a\n    skill: format\n    inputs: {template: '{items}'}\n")
    assert data["steps"][0]["inputs"]["template"] == [1, 2]


def test_tasks_leave_code_between_backticks_alone() -> None:
    task = "Explain `{x: 1 for x in s}` and\n```python\nprint(f'{x}')\n```\nfor {city}."
    assert a.interpolate(task, NS) == (
        "Explain `{x: 1 for x in s}` and\n```python\nprint(f'{x}')\n```\nfor Oslo."
    )
    # Dict and set literals, format specs and conversions are not fields.
    assert a.interpolate("{1, 2} {'k': v} {x:>4} {x!r} ${a.output.b}", {}) == (
        "{1, 2} {'k': v} {x:>4} {x!r} ${a.output.b}"
    )
    assert a.interpolate("{{x}} is written as is", NS) == "{x} is written as is"


def test_an_unknown_bare_name_is_an_error_that_shows_the_escape() -> None:
    with pytest.raises(UsageError, match=r"\{missing\} is not defined.*\{\{missing\}\}"):
        a.interpolate("tell me about {missing}", NS)


def test_new_cell_options_parse() -> None:
    cmd = a.parse_cell_line("--context 3 --format text --out r", "task")
    assert cmd.context == a.ContextSpec(last=3) and cmd.opts.format == "text"
    cmd = a.parse_cell_line("--context In[2],In[5]", "task")
    assert cmd.context == a.ContextSpec(cells=(2, 5))
    for bad, needle in [
        ("--context soon", "--context In[5]"),
        ("--context 0", "give 1 to 50"),
        ("--format yaml", "invalid choice"),
        ("--plan --context 2", "a --plan cell has no task"),
    ]:
        with pytest.raises(UsageError, match=needle.replace("[", r"\[")):
            a.parse_cell_line(bad, "steps: []")
    assert a.parse_line("models --check") == a.ModelsCmd(check=True)
    assert a.parse_line("skills") == a.SkillsCmd()
    assert a.parse_line("resume r-1 --format json").opts.format == "json"


@settings(max_examples=300, deadline=None)
@given(code=st.text(alphabet=st.sampled_from(list("{}xy_:!.$`\"' \n0fr")), max_size=60))
def test_any_code_passes_through_untouched(code: str) -> None:
    data = {"steps": [{"id": "c", "skill": "python", "inputs": {"code": code}}]}
    out = a.interpolate_plan(data, {"x": "X", "y": 1})
    assert out["steps"][0]["inputs"]["code"] == code


@settings(max_examples=300, deadline=None)
@given(
    before=st.text(alphabet=st.sampled_from(list("ab {}:.")), max_size=20),
    inner=st.text(alphabet=st.sampled_from(list("{}xq_:!. ,'\"")), max_size=30),
)
def test_inline_code_in_a_task_is_kept_verbatim(before: str, inner: str) -> None:
    text = f"{before} `{inner}` and {{x}}"
    try:
        out = a.interpolate(text, {"x": "X"})
    except UsageError:
        return  # ``before`` held a bare unknown field: refused, nothing started
    assert f"`{inner}`" in out and out.endswith(" and X")
