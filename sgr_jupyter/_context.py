"""``%%sgr --context``: earlier cells' inputs and outputs given to a task.

``--context 3`` gives the last three cells before this one; ``--context In[5]`` (or
``In[2],In[5]``) gives those cells by their input number. Each cell is written as its source
and, when it had one, the text of its result (``Out[n]``), both capped, so a task can say
"explain the error above" or "summarise this table" without pasting it.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

from sgr_kernel.safety import safe_text

__all__ = ["ContextSpec", "context_arg", "notebook_context", "with_context"]

MAX_CELLS = 50
CELL_CAP = 4_000
"""Characters kept of each cell's source and of its result."""
TOTAL_CAP = 30_000
"""Characters of context in all (the most recent cells are kept)."""
_CELL = re.compile(r"^In\[(\d{1,6})\]$")


@dataclass(frozen=True)
class ContextSpec:
    """``--context N`` (the last N cells) or ``--context In[3],In[5]`` (those cells)."""

    last: int = 0
    cells: tuple[int, ...] = ()


def context_arg(value: str) -> ContextSpec:
    """Parse the value of ``--context`` (argparse ``type=``)."""
    text = value.strip()
    if text.isdigit() and len(text) <= 3:
        n = int(text)
        if not 1 <= n <= MAX_CELLS:
            raise argparse.ArgumentTypeError(f"--context {n}: give 1 to {MAX_CELLS} cells")
        return ContextSpec(last=n)
    cells = []
    for part in text.split(","):
        m = _CELL.match(part.strip())
        if m is None:
            raise argparse.ArgumentTypeError(
                f"{value[:60]!r}: write a number of earlier cells (--context 3) or cells by "
                "their input number (--context In[5] or --context In[2],In[5])"
            )
        cells.append(int(m.group(1)))
    if len(cells) > MAX_CELLS:
        raise argparse.ArgumentTypeError(f"--context: at most {MAX_CELLS} cells")
    return ContextSpec(cells=tuple(cells))


def _cap(text: str) -> str:
    text = safe_text(text)
    return text if len(text) <= CELL_CAP else text[:CELL_CAP] + f"\u2026 ({len(text)} chars)"


def notebook_context(
    spec: ContextSpec,
    inputs: Sequence[str],
    outputs: Mapping[int, Any],
    current: int | None = None,
) -> str:
    """The chosen cells as text. ``inputs`` is IPython's ``In``, ``outputs`` its ``Out``;
    ``current`` is the number of the cell being run (never included; default: the last).

    Raises:
        UsageError: a cell named by number does not exist (yet).
    """
    current = len(inputs) - 1 if current is None else min(current, len(inputs))
    if spec.cells:
        numbers = list(spec.cells)
        for n in numbers:
            if not 1 <= n < current:
                raise UsageError(
                    f"%%sgr --context: there is no earlier cell In[{n}] (this cell is "
                    f"In[{current}]); `%history -n` lists the cells"
                )
    else:
        numbers = list(range(max(1, current - spec.last), current))
    parts: list[str] = []
    for n in numbers:
        block = f"[In {n}]\n{_cap(inputs[n])}"
        if n in outputs:
            block += f"\n[Out {n}]\n{_cap(repr(outputs[n]))}"
        parts.append(block)
    text = "\n\n".join(parts)
    return text[-TOTAL_CAP:]


def with_context(task: str, context: str) -> str:
    """The task with the notebook's cells before it."""
    if not context:
        return task
    head = "Notebook cells for context (earlier inputs and their results):"
    return f"{head}\n\n{context}\n\nTask: {task}"
