"""The ``python`` and ``code_interpreter`` skills with a small fake SkillContext."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from sgr_kernel.errors import SandboxExecutionError, SandboxTimeout, SandboxUnavailable
from sgr_kernel.llm.base import Message
from sgr_kernel.models.plan import Placement
from sgr_kernel.sandbox.base import ExecResult
from sgr_kernel.skills.base import CAP_SANDBOX
from sgr_skills.code_interpreter import CodeInterpreterSkill, CodeModel
from sgr_skills.python import PythonSkill


class FakeCtx:
    """Serves scripted model answers and sandbox results, or runs a real session."""

    run_id, step_id, attempt = "run-1", "s1", 1

    def __init__(self, results: Sequence[ExecResult] = (), answers: Sequence[CodeModel] = ()):
        self.results, self.answers = list(results), list(answers)
        self.codes: list[str] = []
        self.prompts: list[list[Message]] = []
        self.session: Any = None

    async def generate(self, output: type[Any], messages: Sequence[Message], **_: Any) -> Any:
        self.prompts.append(list(messages))
        return self.answers.pop(0)

    async def sandbox(self, code: str, *, timeout_s: float | None = None) -> ExecResult:
        self.codes.append(code)
        if self.session is not None:
            return await self.session.execute(code, timeout_s=timeout_s)  # type: ignore[no-any-return]
        return self.results.pop(0)


def _run(skill: Any, ctx: FakeCtx, inputs: BaseModel) -> Any:
    return asyncio.run(skill.run(ctx, inputs))


def test_declarations() -> None:
    for skill in (PythonSkill, CodeInterpreterSkill):
        assert CAP_SANDBOX in skill.capabilities
        assert skill.placement == Placement.SANDBOX
        assert skill.idempotent is False
    assert PythonSkill.name == "python" and CodeInterpreterSkill.name == "code_interpreter"
    assert {"stdout", "value", "artifacts"} <= set(PythonSkill.catalogue_entry()["outputs"])


def test_python_returns_value_and_stdout() -> None:
    ctx = FakeCtx([ExecResult(ok=True, stdout="hi\n", value=[1, 2], value_repr="[1, 2]")])
    out = _run(PythonSkill(), ctx, PythonSkill.Input(code="print('hi'); [1, 2]"))
    assert (out.stdout, out.value) == ("hi\n", [1, 2])
    ctx = FakeCtx([ExecResult(ok=True, value=None, value_repr="   a\n0  1")])
    assert _run(PythonSkill(), ctx, PythonSkill.Input(code="df")).value == "   a\n0  1"


def test_python_failures_raise_step_errors() -> None:
    boom = ExecResult(
        ok=False, error_type="ZeroDivisionError", error="Traceback…\nZeroDivisionError"
    )
    with pytest.raises(SandboxExecutionError, match="ZeroDivisionError"):
        _run(PythonSkill(), FakeCtx([boom]), PythonSkill.Input(code="1/0"))
    late = ExecResult(ok=False, timed_out=True, state_lost=True, error_type="SandboxTimeout")
    with pytest.raises(SandboxTimeout, match=r"state .* lost"):
        _run(PythonSkill(), FakeCtx([late]), PythonSkill.Input(code="while 1: pass"))


def test_code_interpreter_repairs_with_the_traceback() -> None:
    ctx = FakeCtx(
        results=[
            ExecResult(
                ok=False, error_type="NameError", error="NameError: name 'np' is not defined"
            ),
            ExecResult(ok=True, stdout="", value=6, value_repr="6"),
        ],
        answers=[
            CodeModel(explanation="sum", code="np.arange(4).sum()"),
            CodeModel(
                explanation="import first", code="import numpy as np\nint(np.arange(4).sum())"
            ),
        ],
    )
    out = _run(CodeInterpreterSkill(), ctx, CodeInterpreterSkill.Input(task="sum 0..3"))
    assert out.value == 6 and out.attempts == 2 and out.code.startswith("import numpy")
    feedback = ctx.prompts[1][-1].content
    assert "NameError" in feedback and "not defined" in feedback
    print("FIGURE code_interpreter repair: attempts=2 traceback_fed_back=1")


def test_code_interpreter_gives_up_after_bounded_repairs() -> None:
    bad = ExecResult(ok=False, error_type="ValueError", error="ValueError: nope")
    ctx = FakeCtx(
        results=[bad] * 2, answers=[CodeModel(explanation="x", code="raise ValueError")] * 2
    )
    with pytest.raises(SandboxExecutionError, match="after 1 repair"):
        _run(CodeInterpreterSkill(), ctx, CodeInterpreterSkill.Input(task="t", max_repairs=1))
    assert len(ctx.codes) == 2


def test_no_engine_fails_closed_never_on_host(tmp_path: Path) -> None:
    from sgr_kernel.sandbox.docker import DockerSandbox

    marker = tmp_path / "ran-on-host"

    async def go() -> None:
        sb = DockerSandbox(base_url="unix:///nonexistent/docker.sock", image="sgr-sandbox:any")
        session = await sb.start("r", tmp_path / "ws")
        await session.execute(f"open({str(marker)!r}, 'w').close()")

    with pytest.raises(SandboxUnavailable, match="no Docker engine answers") as e:
        asyncio.run(go())
    assert "ensure-docker.sh" in str(e.value) and not marker.exists()
    print("FIGURE sandbox fail-closed no engine: SandboxUnavailable=1 ran_on_host=0")


@pytest.mark.docker
def test_plan_steps_share_state_and_return_a_figure(tmp_path: Path) -> None:
    """python then code_interpreter in one session: state shared, a figure comes back."""
    from sgr_kernel.sandbox._client import connect, default_image, require_image
    from sgr_kernel.sandbox.docker import DockerSandbox

    try:
        client = connect(timeout=30)
        require_image(client, default_image())
        client.close()
    except SandboxUnavailable as e:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(e))
        pytest.skip(str(e))
    plot = (
        "import matplotlib.pyplot as plt\n"
        "plt.bar(list(sales), list(sales.values()))\n"
        "sum(sales.values())"
    )
    ctx = FakeCtx(answers=[CodeModel(explanation="plot the sales", code=plot)])

    sandbox = DockerSandbox()

    async def go() -> tuple[Any, Any]:
        ctx.session = await sandbox.start("plan-run", tmp_path / "ws")
        try:
            first = await PythonSkill().run(
                ctx, PythonSkill.Input(code="sales = {'north': 3, 'south': 4}")
            )
            second = await CodeInterpreterSkill().run(
                ctx, CodeInterpreterSkill.Input(task="plot sales by region")
            )
            return first, second
        finally:
            await ctx.session.close()
            sandbox.close()

    first, second = asyncio.run(go())
    assert first.value is None and second.value == 7
    assert [a.media_type for a in second.artifacts] == ["image/png"]
    print("FIGURE sandbox plan python->code_interpreter: state_shared=1 figures=1")
