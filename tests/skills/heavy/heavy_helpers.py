"""Shared by the heavy-skill tests: a kernel with the heavy skills, one-step plans, progress
read back from the WAL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import Plan, parse_plan
from sgr_kernel.trace.base import Record, RecordType
from sgr_skills.backtest import BacktestSweepSkill
from sgr_skills.video import VideoRenderSkill

SKILLS = {"backtest_sweep": BacktestSweepSkill, "video_render": VideoRenderSkill}


def kernel(home: Path, dispatcher: Any) -> Kernel:
    return Kernel(KernelConfig(home=home), skills=dict(SKILLS), dispatcher=dispatcher)


def one_step(skill: str, inputs: dict[str, Any], *, step: str = "s", **extra: Any) -> Plan:
    spec = {"id": step, "skill": skill, "capabilities": ["remote"], "inputs": inputs, **extra}
    return parse_plan(json.dumps({"name": skill, "steps": [spec]}))


def progress(records: list[Record], step: str = "s") -> list[dict[str, Any]]:
    return [
        r.data
        for r in records
        if r.type is RecordType.EVENT and r.step == step and r.data.get("kind") == "progress"
    ]


def remote_keys(records: list[Record]) -> list[str]:
    """Job keys of the remote calls whose results were logged as ok."""
    return [
        str(r.data["key"])
        for r in records
        if r.type is RecordType.RESULT and r.data.get("kind") == "remote" and r.data.get("ok")
    ]
