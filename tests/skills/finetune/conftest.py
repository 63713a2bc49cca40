"""The LoRA tests need the ``lora`` extra; missing, they skip locally and FAIL under CI=true."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parents[1] / "kernel" / "dispatch"):  # lora_helpers, dask_procs
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from lora_helpers import ROWS, need_lora  # noqa: E402 (after the path set-up)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    need_lora()
    p = tmp_path / "data.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    return p
