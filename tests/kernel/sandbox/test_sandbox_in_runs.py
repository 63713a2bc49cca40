"""The sandbox through the real engine: python steps share state in one container per run, a
figure comes back as an artifact, and strict replay serves every execution without starting a
container."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sgr_kernel.engine import Kernel, KernelConfig
from sgr_kernel.models import RunStatus, parse_plan
from sgr_kernel.sandbox._profile import LABEL
from sgr_kernel.trace.base import RecordType

pytestmark = pytest.mark.docker

PLAN = """
name: sandbox state
steps:
  - id: define
    skill: python
    inputs: {code: "x = 41\\nprint('defined')"}
  - id: use
    skill: python
    depends_on: [define]
    inputs: {code: "x += 1\\nx"}
  - id: plot
    skill: python
    depends_on: [use]
    inputs:
      code: |
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.plot([1, 2, 3], [x, x + 1, x + 2])
        plt.savefig("/workspace/out/line.png")
        "saved"
"""


def _containers(client: Any) -> int:
    return len(client.containers.list(all=True, filters={"label": LABEL}))


def test_state_artifacts_and_replay(tmp_path: Path, docker_client: Any) -> None:
    async def go() -> tuple[Kernel, Any, int, Any, int]:
        k = Kernel(KernelConfig(home=tmp_path))
        result = await k.run(plan=parse_plan(PLAN))
        after_run = _containers(docker_client)
        report = await k.replay(result.run_id)
        return k, result, after_run, report, _containers(docker_client)

    k, result, after_run, report, after_replay = asyncio.run(go())
    assert result.status is RunStatus.COMPLETED, result.reason
    assert result.outputs["define"]["stdout"] == "defined\n"
    assert result.outputs["use"]["value"] == 42  # state shared across steps
    arts = result.outputs["plot"]["artifacts"]
    names = sorted(a["name"] for a in arts)
    # The file the code saved, and the open figure the runner captures on its own.
    assert "line.png" in names and any(n.startswith("figure-") for n in names), names
    for a in arts:
        assert k.store.get_artifact(result.run_id, a["sha256"]).startswith(b"\x89PNG")
    records = k.store.read(result.run_id).records
    kinds = [r.data["kind"] for r in records if r.type is RecordType.INTENT]
    assert kinds == ["sandbox", "sandbox", "sandbox"]
    assert after_run == 0  # the run's container was removed when the run ended
    assert report.ok and report.live_calls == 0, report
    assert after_replay == 0
    print("FIGURE sandbox_in_runs steps=3 state_shared=1 figures=1 replay_live_calls=0")


def test_code_interpreter_repairs_from_the_traceback(tmp_path: Path, docker_client: Any) -> None:
    """The model's first code raises; the traceback goes back; the fix runs on the state."""
    from sgr_kernel.llm.scripted import ScriptedLLM

    plan = parse_plan(
        """
steps:
  - {id: data, skill: python, inputs: {code: "values = [3, 1, 2]"}}
  - {id: ci, skill: code_interpreter, depends_on: [data], inputs: {task: "sort values"}}
"""
    )
    llm = ScriptedLLM(
        [
            {"explanation": "sort", "code": "sorted(valuez)"},
            {"explanation": "fixed the name", "code": "sorted(values)"},
        ]
    )

    async def go() -> tuple[Kernel, Any, Any]:
        k = Kernel(KernelConfig(home=tmp_path), llm=llm)
        result = await k.run(plan=plan)
        return k, result, await k.replay(result.run_id)

    _, result, report = asyncio.run(go())
    assert result.status is RunStatus.COMPLETED, result.reason
    out = result.outputs["ci"]
    assert out["value"] == [1, 2, 3] and out["code"] == "sorted(values)"
    second = llm.requests[1].messages[-1].content
    assert "NameError" in second and "valuez" in second  # the traceback went back
    assert report.ok and report.live_calls == 0, report
