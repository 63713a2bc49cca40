"""Plan parsing, references and the transition table."""

from __future__ import annotations

import pytest

from sgr_kernel.errors import IllegalTransitionError, PlanParseError, PlanValidationError
from sgr_kernel.models import (
    STEP_TRANSITIONS,
    Ref,
    RefError,
    StepStatus,
    check_step_transition,
    find_refs,
    parse_plan,
    resolve_inputs,
)
from sgr_kernel.models.plan import MAX_PLAN_BYTES


def test_ref_spellings_resolve_by_plain_substitution() -> None:
    outputs = {"a": {"text": "hi", "n": 3, "items": [{"x": 1}]}}
    assert resolve_inputs({"$ref": "a.output.n"}, outputs) == 3
    assert resolve_inputs("${a.output.n}", outputs) == 3  # a lone placeholder keeps its type
    assert resolve_inputs("say ${a.output.text} x${a.output.n}", outputs) == "say hi x3"
    assert resolve_inputs("${a.output.items.0.x}", outputs) == 1
    assert resolve_inputs("$${not.a.ref}", outputs) == "${not.a.ref}"
    # Never a template language: expressions are not evaluated, they are malformed refs.
    errors = [r for r in find_refs("${__import__('os').system('x')}") if isinstance(r, RefError)]
    assert errors


def test_ref_errors_name_the_missing_key() -> None:
    with pytest.raises(RefError, match="no key 'nope'"):
        resolve_inputs("${a.output.nope}", {"a": {"text": "x"}})
    with pytest.raises(RefError, match="no committed output"):
        resolve_inputs({"$ref": "b.output"}, {})
    assert Ref.parse("s1.output.f.g") == Ref(step="s1", path=("f", "g"))


def test_parse_plan_reports_yaml_position() -> None:
    with pytest.raises(PlanParseError, match=r"p\.yaml: not valid YAML at line 3"):
        parse_plan("steps:\n  - id: [unclosed\n", source="p.yaml")


def test_parse_plan_lists_every_schema_problem() -> None:
    with pytest.raises(PlanValidationError) as e:
        parse_plan('{"steps": [{"id": "1bad", "skill": ""}, {"skill": "x", "extra": 1}]}')
    text = str(e.value)
    assert len(e.value.problems) >= 4, text
    assert "steps[0]" in text and "steps[1]" in text


def test_parse_plan_refuses_non_mapping_and_oversize() -> None:
    with pytest.raises(PlanParseError, match="mapping"):
        parse_plan("- a\n- b\n")
    with pytest.raises(PlanParseError, match="byte limit"):
        parse_plan("x" * (MAX_PLAN_BYTES + 1))


def test_transition_table_is_enforced() -> None:
    for current, allowed in STEP_TRANSITIONS.items():
        for target in StepStatus:
            if target in allowed:
                check_step_transition(current, target)
            else:
                with pytest.raises(IllegalTransitionError):
                    check_step_transition(current, target)
    assert not STEP_TRANSITIONS[StepStatus.COMMITTED]  # committed is final
