"""Static display objects: deterministic text/plain and HTML for every result (docs/jupyter.md).

These are what ``%sgr runs|show|replay|config|doctor`` and a finished ``%%sgr --wait`` cell
show. They carry no memory addresses and no wall-clock times unless the data itself is
about time, so nbval and nbconvert see the same output on every run.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sgr_kernel.safety import safe_text

__all__ = ["MermaidGraph", "RunResultView", "Table"]

_CELL_CAP = 300


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str, sort_keys=True, ensure_ascii=False)
    text = safe_text(text).replace("\n", " ")  # model/sandbox text: no terminal escapes
    return text if len(text) <= _CELL_CAP else text[: _CELL_CAP - 1] + "\u2026"


@dataclass(frozen=True)
class Table:
    """A titled table with optional notes, shown as aligned text or an HTML table."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]] = ()
    notes: Sequence[str] = field(default_factory=tuple)

    def _text_rows(self) -> list[list[str]]:
        return [[_cell(v) for v in row] for row in self.rows]

    def __repr__(self) -> str:
        rows = self._text_rows()
        widths = [len(c) for c in self.columns]
        for row in rows:
            widths = [max(w, len(v)) for w, v in zip(widths, row, strict=False)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [self.title]
        if rows:
            lines.append(fmt.format(*self.columns).rstrip())
            lines += [fmt.format(*row).rstrip() for row in rows]
        else:
            lines.append("(none)")
        lines += [safe_text(n) for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
            for row in self._text_rows()
        )
        notes = "".join(f"<div>{html.escape(n)}</div>" for n in self.notes)
        table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        return f"<div class='sgr-table'><b>{html.escape(self.title)}</b>{table}{notes}</div>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


@dataclass(frozen=True)
class MermaidGraph:
    """Mermaid text; JupyterLab renders ``text/vnd.mermaid`` itself, offline."""

    text: str

    def _repr_mimebundle_(self, **_: Any) -> dict[str, str]:
        return {"text/vnd.mermaid": self.text, "text/plain": self.text.rstrip("\n")}


@dataclass(frozen=True)
class RunResultView:
    """How a finished run reads in a notebook: status, per-step results, outputs."""

    name: str
    status: str
    steps: Sequence[tuple[str, str, str, int]] = ()  # id, skill, status, attempts
    outputs: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    usage: Mapping[str, Any] = field(default_factory=dict)

    def _table(self) -> Table:
        rows = [
            (sid, skill, status, attempts, self.outputs.get(sid))
            for sid, skill, status, attempts in self.steps
        ]
        notes = []
        if self.usage:
            notes.append("usage: " + ", ".join(f"{k}={_cell(v)}" for k, v in self.usage.items()))
        if self.error:
            notes.append(f"error: {self.error}")
        return Table(
            f"run {self.name!r}: {self.status}",
            ("step", "skill", "status", "attempts", "output"),
            rows,
            notes,
        )

    def __repr__(self) -> str:
        return repr(self._table())

    def _repr_html_(self) -> str:
        return self._table()._repr_html_()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))
