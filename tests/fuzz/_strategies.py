"""Hypothesis strategies for hostile and confused input: plans, numbers, names, nesting."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import strategies as st

SKILLS = ["format", "answer", "python", "code_interpreter", "nope", "", "FORMAT"]
EMPTY = '""'
CAPS = ["llm", "sandbox", "network", "remote", "netwrok", "", "LLM", "root"]

NUMBER_TEXT = st.sampled_from(
    ["0", "-1", "1", "8", "nan", "NaN", "inf", "-inf", "1e309", "1e-400", "", " ", "abc", "0x10",
     "1_000", "9" * 5000, "-" + "9" * 30, "3.5", "+2", "1e6", "１２"]
)  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def bomb(levels: int, width: int) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    lines.append("steps:")
    lines.append(f"  - {{id: s, skill: format, inputs: {{template: t, extra: *a{levels - 1}}}}}")
    return "\n".join(lines)


HOSTILE = st.one_of(
    st.integers(40, 20000).map(lambda d: "steps: " + nested(d)),
    st.integers(40, 20000).map(lambda d: '{"steps": ' + nested(d) + "}"),
    st.integers(40, 20000).map(
        lambda d: "steps:\n  - {id: a, skill: format, inputs: {template: x, d: " + nested(d) + "}}"
    ),
    st.tuples(st.integers(2, 12), st.integers(2, 12)).map(lambda t: bomb(*t)),
    st.just("a: &a [*a]\nsteps: *a"),
    st.just(
        "steps:\n  - {id: a, skill: format, inputs: {template: x}}\n"
        "steps:\n  - {id: b, skill: python, inputs: {code: 'print(1)'}}\n"
    ),
    st.just(
        '{"steps": [], "steps": [{"id": "a", "skill": "format", "inputs": {"template": "x"}}]}'
    ),
    st.integers(4000, 6000).map(
        lambda n: "steps:\n  - {id: a, skill: format, inputs: {template: x, n: " + "9" * n + "}}"
    ),
    st.sampled_from([".inf", "-.inf", ".nan", "1e999", "-1", "0", "1e12", "true", "'5'"]).map(
        lambda v: f"steps:\n  - {{id: a, skill: format, inputs: {{template: x}}, timeout_s: {v}}}"
    ),
    st.sampled_from(CAPS).map(
        lambda c: (
            f"steps:\n  - {{id: a, skill: format, inputs: {{template: x}}, "
            f"capabilities: [{c or EMPTY}]}}"
        )
    ),
    st.just("!!python/object/apply:os.system ['echo pwned']"),
    st.just("steps:\n  - !!python/name:os.system {}"),
    st.just("\x00steps: []"),
    st.just("\ufeffsteps:\n  - {id: a, skill: format, inputs: {template: x}}"),
    st.just(""),
    st.just("---\n...\n---\nsteps: []"),
    st.just("steps:\n - {id: a, skill: format, inputs: {template: '${a.output.text}'}}"),
    st.just("steps:\n - {id: a, skill: format, inputs: {template: '${b.output.x.y.0}'}}"),
    st.just(
        "budget: {max_steps: -1, max_cost_usd: .nan}\n"
        "steps:\n - {id: a, skill: format, inputs: {template: x}}"
    ),
    st.just(
        "steps:\n - {id: a, skill: format, inputs: {template: x}, "
        "retry: {max_attempts: 1e9, backoff_s: .inf}}"
    ),
)


@st.composite
def plan_dicts(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 4))
    steps = []
    for i in range(n):
        step: dict[str, Any] = {
            "id": draw(st.one_of(st.just(f"s{i}"), st.text(max_size=10))),
            "skill": draw(st.sampled_from(SKILLS)),
            "inputs": draw(
                st.one_of(
                    st.just({"template": f"t{i}"}),
                    st.dictionaries(st.sampled_from(["template", "question", "code", "x"]), values),
                    values,
                )
            ),
        }
        if draw(st.booleans()):
            step["timeout_s"] = draw(scalars)
        if draw(st.booleans()):
            step["capabilities"] = draw(st.lists(st.sampled_from(CAPS), max_size=3))
        if draw(st.booleans()):
            step["depends_on"] = draw(st.lists(st.sampled_from([f"s{j}" for j in range(5)])))
        if draw(st.booleans()):
            step["retry"] = {"max_attempts": draw(scalars), "backoff_s": draw(scalars)}
        steps.append(step)
    plan: dict[str, Any] = {"name": draw(st.text(max_size=20)), "steps": steps}
    if draw(st.booleans()):
        plan["budget"] = {"max_steps": draw(scalars), "max_cost_usd": draw(scalars)}
    if draw(st.booleans()):
        plan[draw(st.text(max_size=6))] = draw(values)
    return plan


def _dump(plan: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(plan)
    return str(yaml.safe_dump(plan, allow_unicode=True))


PLAN_TEXTS = st.one_of(
    HOSTILE,
    st.tuples(plan_dicts(), st.booleans()).map(lambda t: _dump(*t)),
    st.text(max_size=200),
)
