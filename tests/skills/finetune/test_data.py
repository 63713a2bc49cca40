"""The dataset is checked whole before anything is submitted; errors name the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sgr_skills.finetune._data import load_jsonl, split
from sgr_skills.finetune.base import Example


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        (['{"prompt": "a", "response": "b"}', "not json"], "line 2: not JSON"),
        (['{"prompt": "a"}'], "line 1: response: Field required"),
        (['{"prompt": "", "response": "b"}'], "line 1: prompt: String should have at least 1"),
        (["", "  "], "has no rows"),
    ],
)
def test_bad_rows_are_named(tmp_path: Path, lines: list[str], why: str) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(lines))
    with pytest.raises(ValueError, match=why):
        load_jsonl(p)


def test_missing_file_and_split(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a file"):
        load_jsonl(tmp_path / "nope.jsonl")
    rows = [Example(prompt=str(i), response="r") for i in range(10)]
    train, held = split(rows, 0.2)
    assert len(held) == 2 and len(train) == 8 and not set(train) & set(held)
    with pytest.raises(ValueError, match="at least 2 rows"):
        split(rows[:1], 0.2)
    p = tmp_path / "ok.jsonl"
    p.write_text(json.dumps({"prompt": "p", "response": "r", "extra": 1}) + "\n\n")
    assert load_jsonl(p) == [Example(prompt="p", response="r")]
