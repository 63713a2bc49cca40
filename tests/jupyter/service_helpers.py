"""Helpers for the service and REST tests (not collected: no ``test_`` prefix)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import subprocess
import sys
import textwrap
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sgr_kernel._defaults import default_skills
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.plan import parse_plan
from sgr_kernel.skills.base import Skill, SkillContext
from sgr_kernel.trace.base import ArtifactRef


class _In(BaseModel):
    name: str


class _Out(BaseModel):
    artifacts: list[ArtifactRef]


class DrawSkill(Skill):
    """Writes two artifacts: a PNG (shown inline) and an HTML page (a download only)."""

    name = "draw"
    description = "test skill: stores a picture and a page"
    Input = _In
    Output = _Out

    async def run(self, ctx: SkillContext, inputs: _In) -> _Out:
        png = ctx.put_artifact(PNG, name=f"{inputs.name}.png", media_type="image/png")
        page = ctx.put_artifact(b"<script>alert(1)</script>", name="x.html", media_type="text/html")
        return _Out(artifacts=[png, page])


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def artifact_run(home: Path) -> tuple[Kernel, str]:
    skills = {**default_skills(), "draw": DrawSkill}
    kernel = Kernel(KernelConfig(home=home, pause_when_waiting=True), skills=skills)
    plan = parse_plan("steps:\n  - {id: chart, skill: draw, inputs: {name: sales}}\n")
    return kernel, asyncio.run(kernel.run(plan=plan)).run_id


GATE = """
name: gate
steps:
  - {id: a, skill: format, inputs: {template: x}}
  - {id: gate, skill: format, requires_approval: true, inputs: {template: "${a.output.text}!"}}
  - {id: after, skill: format, inputs: {template: "${gate.output.text}"}}
"""

LIVE = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from sgr_kernel.engine.kernel import Kernel, KernelConfig
    from sgr_kernel.models.plan import parse_plan
    kernel = Kernel(KernelConfig(home=Path(sys.argv[1]), pause_when_waiting=False))
    result = asyncio.run(kernel.run(plan=parse_plan(sys.stdin.read())))
    print(result.status.value, flush=True)
    """
)


def live_run(home: Path) -> subprocess.Popen[str]:
    """A notebook kernel stand-in: drives GATE and waits (not pauses) at its approval."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LIVE, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(GATE)
    proc.stdin.close()
    return proc


# ---------------------------------------------------------------- a real jupyter-server


def server_config(home: Path, *, steer_wait_s: float) -> dict[str, Any]:
    """pytest-jupyter's ``jp_server_config``: the extension on, its runs under ``home``."""
    return {
        "ServerApp": {"jpserver_extensions": {"sgr_jupyter.server": True}},
        "SgrServer": {"home": str(home), "steer_wait_s": steer_wait_s},
    }


def on_server_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an ``async`` test body on the server's loop, as a plain test function. A body
    with a ``loop`` parameter gets the server's loop there (a worker thread posts to it)."""
    wants_loop = "loop" in inspect.signature(test).parameters

    @functools.wraps(test)
    def run(jp_asyncio_loop: asyncio.AbstractEventLoop, **fixtures: Any) -> None:
        extra = {"loop": jp_asyncio_loop} if wants_loop else {}
        jp_asyncio_loop.run_until_complete(test(**extra, **fixtures))

    params = [inspect.Parameter("jp_asyncio_loop", inspect.Parameter.KEYWORD_ONLY)]
    params += [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for name, p in inspect.signature(test).parameters.items()
        if name != "loop"
    ]
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return run
