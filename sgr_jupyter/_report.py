"""A finished run as a static record, from a RunView's saved widget state (``make demo``).

An exported notebook has no kernel behind its widgets: what the live view showed while the
cell ran (a plan still being made, a step running) would be stale there. The demo report
replaces each RunView output with this record of how the run ended: its state, the DAG
coloured by step state, each step's status and the answer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from sgr_kernel.graph.mermaid import mermaid_class
from sgr_kernel.models.status import StepStatus

__all__ = ["escape_mermaid_pre", "static_record"]

_PRE = re.compile(r'(<pre class="mermaid">)(.*?)(</pre>)', re.S)


def _coloured(mermaid: str, nodes: Mapping[str, str], states: Mapping[str, str]) -> str:
    """The plan's Mermaid structure with each node in its final state's colour."""
    by_class: dict[str, list[str]] = {}
    for sid, status in states.items():
        node = nodes.get(sid)
        if node is None:
            continue
        try:
            cls = mermaid_class(StepStatus(status))
        except ValueError:
            continue
        by_class.setdefault(cls, []).append(node)
    lines = [mermaid.rstrip("\n")]
    lines += [f"  class {','.join(sorted(ids))} {cls}" for cls, ids in sorted(by_class.items())]
    return "\n".join(lines) + "\n"


def static_record(state: Mapping[str, Any]) -> dict[str, str]:
    """``text/plain`` and ``text/html`` for one RunView's saved state."""
    name = str(state.get("name") or "run")
    phase = str(state.get("phase") or state.get("status") or "")
    states: Mapping[str, str] = state.get("states") or {}
    done = sum(1 for s in states.values() if s == StepStatus.COMMITTED.value)
    final = phase in ("COMPLETED", "FAILED", "CANCELLED")
    lead = "Finished run" if final else "Run, as last seen:"
    head = f"{lead} {name!r}: {phase.replace('_', ' ')}, {done}/{len(states)} steps committed"
    elapsed = state.get("elapsed")
    if isinstance(elapsed, int | float) and elapsed > 0:
        head += f" in {elapsed:.3g} s"
    reason = str(state.get("reason") or "")
    errors: Mapping[str, Mapping[str, Any]] = state.get("errors") or {}
    rows = []
    for sid, status in states.items():
        err = errors.get(sid) or {}
        note = str(err.get("message") or "")
        if err.get("why_not_retried"):
            note += f" (not retried: {err['why_not_retried']})"
        rows.append((sid, status, note))
    text = [head, *(f"  {sid}  {status}  {note}".rstrip() for sid, status, note in rows)]
    if reason and phase != "COMPLETED":
        text.append(f"reason: {reason}")
    noted = any(c for _, _, c in rows)
    cols = ("step", "status", "note") if noted else ("step", "status")
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row[: len(cols)]) + "</tr>"
        for row in rows
    )
    parts = [f"<b>{html.escape(head)}</b>"]
    mermaid = str(state.get("mermaid") or "")
    if mermaid:
        graph = _coloured(mermaid, state.get("nodes") or {}, states)
        parts.append(
            f'<div class="jp-Mermaid"><pre class="mermaid">{html.escape(graph)}</pre></div>'
        )
    if rows:
        head_row = "".join(f"<th>{c}</th>" for c in cols)
        parts.append(f"<table><tr>{head_row}</tr>{body}</table>")
    if reason and phase != "COMPLETED":
        parts.append(f"<div>reason: {html.escape(reason)}</div>")
    return {
        "text/plain": "\n".join(text),
        "text/html": f"<div class='sgr-runview-static'>{''.join(parts)}</div>",
    }


def escape_mermaid_pre(page: str) -> str:
    """Keep Mermaid's ``<br/>`` line breaks in an exported page: the renderer reads each
    ``pre.mermaid`` block's text, and a raw ``<br/>`` there is an element, not text."""

    def fix(m: re.Match[str]) -> str:
        inner = re.sub(r"<br\s*/?>", "&lt;br/&gt;", m.group(2))
        return m.group(1) + inner + m.group(3)

    return _PRE.sub(fix, page)
