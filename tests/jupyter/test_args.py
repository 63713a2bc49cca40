"""The pure line parser: typed commands out, IPython's UsageError (exactly) for mistakes."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from sgr_jupyter import _args as a


def _usage(fn, *args, **kw) -> str:
    with pytest.raises(UsageError) as info:
        fn(*args, **kw)
    assert type(info.value) is UsageError  # the exact class: IPython shows no traceback
    return str(info.value)


def test_cell_options_parse_into_a_frozen_command() -> None:
    cmd = a.parse_cell_line(
        "--plan --name demo --provider scripted:x.jsonl --model m --approval auto "
        "--durability none --budget-tokens 500 --budget-usd 0.5 --budget-wall 30 "
        "--budget-steps 7 --wait --out res",
        "steps: []",
    )
    assert cmd == a.CellCmd(
        body="steps: []",
        plan=True,
        name="demo",
        provider="scripted:x.jsonl",
        model="m",
        approval="auto",
        durability="none",
        budget={"max_tokens": 500, "max_cost_usd": 0.5, "max_wall_s": 30.0, "max_steps": 7},
        opts=a.RunOptions(wait=True, out="res"),
    )


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("--bogus", "unrecognized arguments: --bogus"),
        ("--budget-usd -1", "out of range: use more than 0"),
        ("--budget-tokens many", "not a whole number"),
        ("--approval maybe", "invalid choice"),
        ("--out 1x", "not a Python identifier"),
        ("--name 'open", "close the quote"),
        ("--wai", "unrecognized arguments"),  # no silent abbreviations
    ],
)
def test_cell_mistakes_are_one_line_usage_errors(line: str, needle: str) -> None:
    assert needle in _usage(a.parse_cell_line, line, "task")


def test_empty_cell_is_refused() -> None:
    assert "the cell is empty" in _usage(a.parse_cell_line, "", "  \n")


def test_subcommands() -> None:
    assert a.parse_line("runs --limit 5") == a.RunsCmd(limit=5)
    assert a.parse_line("show r-1") == a.ShowCmd("r-1")
    assert a.parse_line("resume r-1 --wait --out x") == a.ResumeCmd("r-1", a.RunOptions(True, "x"))
    assert a.parse_line("replay r-1") == a.ReplayCmd("r-1")
    fork = a.parse_line('fork r-1 --from b --input b.question="why?" --input b.n=3')
    assert fork == a.ForkCmd("r-1", "b", {"b": {"question": "why?", "n": 3}})
    assert a.parse_line("approve r-1 gate --by ann") == a.ApproveCmd("r-1", "gate", by="ann")
    assert a.parse_line("deny r-1 gate --reason 'too costly'") == a.DenyCmd(
        "r-1", "gate", reason="too costly"
    )
    assert a.parse_line("cancel r-1") == a.CancelCmd("r-1")
    assert a.parse_line("config") == a.ConfigCmd()
    assert a.parse_line("sandbox") == a.SandboxCmd("status")
    assert a.parse_line("sandbox build") == a.SandboxCmd("build")
    assert a.parse_line("doctor") == a.DoctorCmd()
    assert a.parse_line("models") == a.ModelsCmd()


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("", "name a subcommand"),
        ("launch", "invalid choice: 'launch'"),
        ("show", "the following arguments are required: run_id"),
        ("show 'bad id!'", "is not a run id"),
        ("approve r-1", "required: step_id"),
        ("fork r-1", "--from"),
        ("fork r-1 --from b --input nope", "STEP.INPUT=VALUE"),
        ("sandbox explode", "invalid choice"),
    ],
)
def test_line_mistakes_are_one_line_usage_errors(line: str, needle: str) -> None:
    assert needle in _usage(a.parse_line, line)


def test_interpolation_of_kernel_variables() -> None:
    ns = {"city": "Oslo", "n": 3, "cfg": {"a": 1}}
    assert a.interpolate("weather in {city} x{n}", ns) == "weather in Oslo x3"
    assert a.interpolate("literal {{city}}", ns) == "literal {city}"
    # Plan placeholders and YAML flow mappings pass through untouched.
    text = "inputs: {template: '${a.output.text} {city}'}\nx: {a: 1}"
    assert a.interpolate(text, ns, as_plan=True) == (
        "inputs: {template: '${a.output.text} Oslo'}\nx: {a: 1}"
    )
    assert a.interpolate("n: {n}\nc: {cfg}", ns, as_plan=True) == 'n: 3\nc: {"a": 1}'


def test_interpolating_an_undefined_name_names_the_fix() -> None:
    msg = _usage(a.interpolate, "hello {who}", {})
    assert "{who} is not defined" in msg and "{{who}}" in msg
