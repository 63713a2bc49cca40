"""With durability ``none`` the scheduler writes its turn's records once, before it sleeps
(ADR 027): a step that depends on a commit never runs before that commit is on disk, and a
finished run's log holds every record, in order, as the fold saw them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict
from skills_for_tests import TEST_SKILLS, make_kernel, plan_of

from sgr_kernel.engine import RunConfig
from sgr_kernel.skills.base import Skill, SkillContext
from sgr_kernel.trace import Durability, FileTraceStore, RecordType


class _In(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Out(BaseModel):
    on_disk: list[str]


class PeekSkill(Skill):
    """Reads its own run's log from disk (another reader's view) and lists the commits."""

    name = "peek"
    description = "Lists the steps whose commit is on disk."
    Input = _In
    Output = _Out
    store: ClassVar[FileTraceStore | None] = None

    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        assert self.store is not None
        records = self.store.read(ctx.run_id).records
        done = [
            r.step or ""
            for r in records
            if r.type is RecordType.STEP and r.data["status"] == "COMMITTED"
        ]
        return _Out(on_disk=done)


@pytest.mark.parametrize("shape", ["chain", "fanout"])
def test_a_step_runs_only_after_its_parents_commits_are_written(tmp_path: Path, shape: str) -> None:
    if shape == "chain":
        steps = [
            {"id": f"s{i}", "skill": "peek", "depends_on": [f"s{i - 1}"] if i else []}
            for i in range(12)
        ]
    else:
        mid = [{"id": f"p{i}", "skill": "peek", "depends_on": ["src"]} for i in range(10)]
        steps = [
            {"id": "src", "skill": "peek"},
            *mid,
            {"id": "join", "skill": "peek", "depends_on": [m["id"] for m in mid]},
        ]
    cfg = RunConfig(durability=Durability.NONE, max_concurrency=4)
    k = make_kernel(tmp_path, run=cfg, skills={**TEST_SKILLS, "peek": PeekSkill})
    PeekSkill.store = FileTraceStore(tmp_path)
    try:
        result = asyncio.run(k.run(plan=plan_of(*steps)))
    finally:
        PeekSkill.store = None
    assert result.ok, result
    state = k.load(result.run_id)
    early = 0
    for s in steps:
        seen = set(state.steps[s["id"]].output["on_disk"])  # type: ignore[index]
        early += not set(s.get("depends_on", [])) <= seen
    print(f"FIGURE turn_writes shape={shape} steps={len(steps)} ran_before_parent_written={early}")
    assert early == 0
    # The log on disk is the whole run, in order, and folds to the state the run ended with.
    log = FileTraceStore(tmp_path).read(result.run_id)
    assert [r.seq for r in log.records] == list(range(len(log.records)))
    assert not log.report.torn_tail
    assert k.load(result.run_id).status.value == "COMPLETED"
