"""plan_to_mermaid: exact text, state classes, escaping, determinism."""

from __future__ import annotations

import re

import pytest

from sgr_kernel.graph.mermaid import mermaid_class, mermaid_node_id, plan_to_mermaid
from sgr_kernel.models import Plan, StepSpec, StepStatus


def _plan(*steps: StepSpec) -> Plan:
    return Plan(name="p", steps=steps)


def test_two_step_plan_exact_text() -> None:
    plan = _plan(
        StepSpec(id="fetch", skill="python"),
        StepSpec(id="sum", skill="answer", inputs={"context": {"$ref": "fetch.output.stdout"}}),
    )
    text = plan_to_mermaid(plan, {"fetch": StepStatus.COMMITTED, "sum": StepStatus.RUNNING})
    body = [ln for ln in text.splitlines() if "classDef" not in ln]
    assert body == [
        "flowchart TD",
        '  s_fetch["fetch<br/>python"]',
        '  s_sum["sum<br/>answer"]',
        "  s_fetch --> s_sum",
        "  class s_sum sgr_running",
        "  class s_fetch sgr_committed",
    ]
    assert text.endswith("\n")


def test_one_class_def_per_status_and_every_node_has_a_class() -> None:
    plan = _plan(*(StepSpec(id=f"s{i}", skill="format") for i in range(4)))
    text = plan_to_mermaid(plan, {"s0": StepStatus.FAILED})
    for status in StepStatus:
        assert f"classDef {mermaid_class(status)} " in text
    assert "  class s_s1,s_s2,s_s3 sgr_pending" in text
    assert "  class s_s0 sgr_failed" in text


def test_edges_from_depends_on_and_string_placeholders_are_deduplicated() -> None:
    plan = _plan(
        StepSpec(id="a", skill="format"),
        StepSpec(id="b", skill="format", inputs={"template": "x ${a.output.text} ${a.output}"}),
        StepSpec(id="c", skill="format", depends_on=("a", "b"), inputs={"t": {"$ref": "b.output"}}),
    )
    edges = [ln.strip() for ln in plan_to_mermaid(plan, {}).splitlines() if "-->" in ln]
    assert edges == ["s_a --> s_b", "s_a --> s_c", "s_b --> s_c"]


def test_selected_step_gets_the_highlight_class_only_when_known() -> None:
    plan = _plan(StepSpec(id="a", skill="format"))
    assert "class s_a sgr_selected" in plan_to_mermaid(plan, {}, selected="a")
    assert "class s_nope" not in plan_to_mermaid(plan, {}, selected="nope")


def test_node_ids_are_safe_and_injective() -> None:
    ids = ["end", "a-b", "a_b", "a__b", "a_x2d_b", "graph", "o1", "x", "A", "a"]
    node_ids = [mermaid_node_id(i) for i in ids]
    assert len(set(node_ids)) == len(ids)
    assert all(re.fullmatch(r"s_[A-Za-z0-9_]+", n) for n in node_ids)
    assert mermaid_node_id("a-b") == "s_a_x2d_b"
    assert mermaid_node_id("a_b") == "s_a__b"


def test_labels_cannot_inject_markup_or_mermaid_syntax() -> None:
    # Plan models validate ids, so build a hostile plan the way a buggy caller could.
    evil_skill = '"]; click s_a call alert(1) <img src=x onerror=alert(1)>%%{init: {}}%%'
    step = StepSpec.model_construct(
        id='a"]-->b', skill=evil_skill, inputs={}, depends_on=(), requires_approval=False
    )
    plan = Plan.model_construct(name="evil", steps=(step,))
    text = plan_to_mermaid(plan, {})
    node_line = next(ln for ln in text.splitlines() if ln.startswith("  s_"))
    label = node_line.split('["', 1)[1].rsplit('"]', 1)[0]
    assert label.count("<br/>") == 1
    unsafe = label.replace("<br/>", "")
    for ch in '"<>[](){};%`#':
        stripped = re.sub(r"#\d+;", "", unsafe)
        assert ch not in stripped, ch
    assert "#60;img src#61;x onerror#61;alert#40;1#41;#62;" in label
    assert "click" not in text.split(node_line)[1]  # nothing after the node became a statement


def test_deterministic_and_state_insensitive_structure() -> None:
    plan = _plan(
        StepSpec(id="a", skill="format"), StepSpec(id="b", skill="format", depends_on=("a",))
    )
    one = plan_to_mermaid(plan, {"a": StepStatus.COMMITTED})
    assert one == plan_to_mermaid(plan, {"a": StepStatus.COMMITTED})
    two = plan_to_mermaid(plan, {"a": "COMMITTED"})  # type: ignore[dict-item]
    assert one == two


def test_long_labels_are_truncated_and_bad_direction_refused() -> None:
    plan = _plan(StepSpec(id="a", skill="k" * 200))
    assert "k" * 79 + "#8230;" in plan_to_mermaid(plan, {})
    assert plan_to_mermaid(plan, {}, direction="LR").startswith("flowchart LR\n")
    with pytest.raises(ValueError, match="direction"):
        plan_to_mermaid(plan, {}, direction="TD;click")
