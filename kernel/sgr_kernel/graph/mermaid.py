"""Plan + step states -> Mermaid flowchart text (docs/jupyter.md).

The kernel describes, the front end displays: this pure function is the only place that
writes Mermaid. Its output is deterministic (same plan and states, same text) and safe to
hand to a renderer: node ids are derived by an injective escape that yields only
``[A-Za-z0-9_]``, and labels carry no raw markup, because every character outside a small
safe set becomes a Mermaid entity (``#60;``). A step id or skill name therefore cannot close
a label, start a directive, or inject HTML/JS into the rendered SVG.
"""

from __future__ import annotations

from collections.abc import Mapping

from sgr_kernel.models.plan import Plan
from sgr_kernel.models.refs import Ref, find_refs
from sgr_kernel.models.status import StepStatus

__all__ = ["STATUS_STYLES", "mermaid_class", "mermaid_node_id", "plan_to_mermaid"]

STATUS_STYLES: dict[StepStatus, str] = {
    StepStatus.PENDING: "fill:#f4f4f5,stroke:#a1a1aa,color:#3f3f46",
    StepStatus.READY: "fill:#e0f2fe,stroke:#0284c7,color:#0c4a6e",
    StepStatus.WAITING_APPROVAL: "fill:#fef3c7,stroke:#d97706,color:#78350f,stroke-width:2px",
    StepStatus.RUNNING: "fill:#dbeafe,stroke:#2563eb,color:#1e3a8a,stroke-width:2px",
    StepStatus.RETRY_WAIT: "fill:#ffedd5,stroke:#ea580c,color:#7c2d12",
    StepStatus.COMMITTED: "fill:#dcfce7,stroke:#16a34a,color:#14532d",
    StepStatus.FAILED: "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d",
    StepStatus.SKIPPED: "fill:#f5f5f4,stroke:#a8a29e,color:#78716c,stroke-dasharray:4 3",
    StepStatus.CANCELLED: "fill:#e7e5e4,stroke:#57534e,color:#44403c,stroke-dasharray:2 2",
}
"""Fill/stroke per state; the widget uses the same palette when it recolours nodes live."""

_SELECTED_STYLE = "stroke:#7c3aed,stroke-width:4px"
_SELECTED_CLASS = "sgr_selected"
# Characters that may appear verbatim in a label; everything else becomes ``#<code>;``.
_LABEL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.-:,/")
_MAX_LABEL = 80


def mermaid_class(status: StepStatus) -> str:
    """The Mermaid class name used for a step state (``sgr_committed``, ...)."""
    return f"sgr_{status.value.lower()}"


def mermaid_node_id(step_id: str) -> str:
    """An injective, Mermaid-safe node id for a step id.

    ASCII letters and digits pass through; ``_`` becomes ``__`` and any other character
    ``_x<hex>_``, so two different step ids never share a node id. The ``s_`` prefix keeps
    ids clear of Mermaid keywords (``end``, ``graph``, ``class``...) and of the ``o``/``x``
    edge-marker ambiguity.
    """
    out = ["s_"]
    for ch in step_id:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch == "_":
            out.append("__")
        else:
            out.append(f"_x{ord(ch):x}_")
    return "".join(out)


def _label_text(text: str) -> str:
    if len(text) > _MAX_LABEL:
        text = text[: _MAX_LABEL - 1] + "\u2026"
    return "".join(ch if ch in _LABEL_SAFE else f"#{ord(ch)};" for ch in text)


def _edges(plan: Plan) -> list[tuple[str, str]]:
    """Upstream -> downstream pairs from ``depends_on`` and input references, in plan order."""
    known = set(plan.step_ids)
    edges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for step in plan.steps:
        ups = list(step.depends_on)
        ups += [r.step for r in find_refs(step.inputs) if isinstance(r, Ref)]
        for up in ups:
            pair = (up, step.id)
            if up in known and up != step.id and pair not in seen:
                seen.add(pair)
                edges.append(pair)
    return edges


def plan_to_mermaid(
    plan: Plan,
    states: Mapping[str, StepStatus],
    *,
    selected: str | None = None,
    direction: str = "TD",
) -> str:
    """Render a plan as a Mermaid flowchart coloured by step state.

    Args:
        plan: The plan; its steps become nodes, dependencies and references become edges.
        states: Step id -> state; steps missing here are drawn as ``PENDING``.
        selected: A step id to highlight (the one whose detail is open), if any.
        direction: Flowchart direction, one of ``TD``, ``LR``, ``BT``, ``RL``.

    Returns:
        Mermaid text, one statement per line, identical for identical arguments.

    Raises:
        ValueError: ``direction`` is not one of the four Mermaid directions.
    """
    if direction not in ("TD", "LR", "BT", "RL"):
        raise ValueError(f"direction must be TD, LR, BT or RL, not {direction!r}")
    lines = [f"flowchart {direction}"]
    lines += [f"  classDef {mermaid_class(s)} {style}" for s, style in STATUS_STYLES.items()]
    lines.append(f"  classDef {_SELECTED_CLASS} {_SELECTED_STYLE}")
    for step in plan.steps:
        label = f"{_label_text(step.id)}<br/>{_label_text(step.skill)}"
        lines.append(f'  {mermaid_node_id(step.id)}["{label}"]')
    lines += [f"  {mermaid_node_id(a)} --> {mermaid_node_id(b)}" for a, b in _edges(plan)]
    by_status: dict[StepStatus, list[str]] = {}
    for step in plan.steps:
        status = StepStatus(states.get(step.id, StepStatus.PENDING))
        by_status.setdefault(status, []).append(mermaid_node_id(step.id))
    for status in STATUS_STYLES:  # enum order, so the text is stable
        if status in by_status:
            lines.append(f"  class {','.join(by_status[status])} {mermaid_class(status)}")
    if selected is not None and selected in plan.step_ids:
        lines.append(f"  class {mermaid_node_id(selected)} {_SELECTED_CLASS}")
    return "\n".join(lines) + "\n"
