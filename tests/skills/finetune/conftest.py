"""The LoRA tests need the ``lora`` extra; missing, they skip locally and FAIL under CI=true."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parent) not in sys.path:  # lora_helpers
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from lora_helpers import ROWS, need_lora


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    need_lora()
    p = tmp_path / "data.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    return p
