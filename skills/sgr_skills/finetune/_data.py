"""The JSONL dataset: one ``{"prompt": …, "response": …}`` object a line, checked whole
before anything is submitted (the error names the line and what is wrong with it)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from sgr_skills.finetune.base import Example

__all__ = ["MAX_BYTES", "load_jsonl", "split"]

MAX_BYTES = 16 * 1024 * 1024
"""Largest dataset file read (the rows travel in the job's parameters and the run's log)."""


def load_jsonl(path: str | Path) -> list[Example]:
    """Every row of the file.

    Raises:
        ValueError: The file is missing, too large, empty, or a line is not a valid row.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise ValueError(f"dataset {p} is not a file; give a JSONL file of prompt/response rows")
    if p.stat().st_size > MAX_BYTES:
        raise ValueError(f"dataset {p} is over {MAX_BYTES} bytes; sample it down")
    rows: list[Example] = []
    for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(Example.model_validate(json.loads(line)))
        except json.JSONDecodeError as e:
            raise ValueError(f"dataset {p} line {n}: not JSON ({e.msg})") from None
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "row"
            raise ValueError(
                f"dataset {p} line {n}: {where}: {err['msg']} "
                '(each line must be {"prompt": "...", "response": "..."})'
            ) from None
    if not rows:
        raise ValueError(f"dataset {p} has no rows")
    return rows


def split(rows: list[Example], eval_fraction: float) -> tuple[list[Example], list[Example]]:
    """(train, eval): every k-th row is held out (deterministic); at least one each."""
    if len(rows) < 2:
        raise ValueError("a dataset needs at least 2 rows (one to train on, one to evaluate)")
    k = max(2, round(1 / eval_fraction))
    held = [r for i, r in enumerate(rows) if i % k == k - 1] or rows[-1:]
    kept = [r for i, r in enumerate(rows) if i % k != k - 1] if len(held) < len(rows) else rows
    return kept or rows[:1], held
