"""One sandbox session per run, kept across restarts: a resumed (or forked) run rebuilds the
Python state its later steps rely on from the logged cells, without repeating their effects on
the workspace; python steps that start together share the one session; reaping tolerates
races and touches only containers whose owner is provably gone."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sgr_kernel.engine import Kernel, KernelConfig, RunConfig
from sgr_kernel.models import RunStatus, parse_plan
from sgr_kernel.sandbox._client import reap_orphans
from sgr_kernel.sandbox._profile import LABEL, OWNER_LABEL, RUN_LABEL
from sgr_kernel.trace import _crash
from sgr_kernel.trace.base import RecordType

pytestmark = pytest.mark.docker

STATE_PLAN = """
name: state across a crash
steps:
  - id: a
    skill: python
    inputs:
      code: |
        x = 41
        with open("/workspace/log.txt", "a") as f:
            f.write("a ran\\n")
  - id: b
    skill: python
    depends_on: [a]
    inputs: {code: "x + 1"}
"""


def _child(home: Path, crash: str) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            _crash.arm(crash)
            k = Kernel(KernelConfig(home=home, run=RunConfig(max_concurrency=1)))
            asyncio.run(k.run(plan=parse_plan(STATE_PLAN), run_id="run"))
        finally:
            os._exit(0)
    return os.waitpid(pid, 0)[1]


def _resume_child(home: Path, crash: str) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            _crash.arm(crash)

            async def go() -> None:
                k = Kernel(KernelConfig(home=home))
                await (await k.resume("run")).wait()

            asyncio.run(go())
        finally:
            os._exit(0)
    status = os.waitpid(pid, 0)[1]
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1


def _containers(client: Any, run_id: str | None = None) -> list[Any]:
    labels = [f"{LABEL}=1"] + ([f"{RUN_LABEL}={run_id}"] if run_id else [])
    return client.containers.list(all=True, filters={"label": labels})


@pytest.mark.parametrize(
    "crash, on_resume",
    [
        ("steps_acknowledged:1", None),
        ("effect_recorded:1", None),
        ("sandbox_start:1", None),
        ("steps_acknowledged:1", "sandbox_start:1"),
        ("steps_acknowledged:1", "sandbox_restore_cell:1"),
    ],
)
def test_resume_rebuilds_the_state_and_repeats_no_effect(
    tmp_path: Path, docker_client: Any, crash: str, on_resume: str | None
) -> None:
    status = _child(tmp_path, crash)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    if on_resume is not None:  # the resume dies too: starting, or rebuilding, its session
        assert _resume_child(tmp_path, on_resume) == signal.SIGKILL
    reap_orphans(docker_client)  # the dead child's container (its runner also exits at EOF)
    log = tmp_path / "runs" / "run" / "workspace" / "log.txt"
    prompts = 0

    async def go() -> Any:
        k = Kernel(KernelConfig(home=tmp_path, pause_when_waiting=True))
        return await (await k.resume("run")).wait()

    result = asyncio.run(go())
    while result.status is RunStatus.PAUSED and prompts < 3:
        # Killed with a cell's intent logged and no result: whether it ran is unknown, so
        # the step asks first. (Here it never had: the session was not up yet.)
        k = Kernel(KernelConfig(home=tmp_path, pause_when_waiting=True))
        for sid, st in k.load("run").steps.items():
            if st.status.value == "WAITING_APPROVAL":
                k.approve("run", sid, by="test")
                prompts += 1
        result = asyncio.run(go())
    assert result.status is RunStatus.COMPLETED, result.reason
    assert result.outputs["b"]["value"] == 42  # x came back from the logged cell
    assert log.read_text() == "a ran\n"  # ...without appending again
    assert _containers(docker_client, "run") == []
    print(
        f"FIGURE sandbox_resume crash={crash} resume_crash={on_resume} value=42 "
        f"in_doubt_prompts={prompts} workspace_effects_repeated=0"
    )


def test_fork_from_a_later_step_keeps_the_earlier_state(tmp_path: Path, docker_client: Any) -> None:
    async def go() -> tuple[Any, Any]:
        k = Kernel(KernelConfig(home=tmp_path))
        first = await k.run(plan=parse_plan(STATE_PLAN), run_id="run")
        forked = await (await k.fork("run", from_step="b", inputs={"code": "x + 2"})).wait()
        return first, forked

    first, forked = asyncio.run(go())
    assert first.status is RunStatus.COMPLETED and first.outputs["b"]["value"] == 42
    assert forked.status is RunStatus.COMPLETED, forked.reason
    assert forked.outputs["b"]["value"] == 43
    fork_log = tmp_path / "runs" / forked.run_id / "workspace" / "log.txt"
    assert fork_log.read_text() == "a ran\n"  # the parent's workspace, as it was, once


def test_python_steps_started_together_share_one_session(
    tmp_path: Path, docker_client: Any
) -> None:
    plan = parse_plan(
        """
name: together
steps:
  - {id: p1, skill: python, inputs: {code: "import os; a = os.getpid(); a"}}
  - {id: p2, skill: python, inputs: {code: "import os; b = os.getpid(); b"}}
  - {id: p3, skill: python, inputs: {code: "import os; c = os.getpid(); c"}}
  - id: seen
    skill: python
    depends_on: [p1, p2, p3]
    inputs: {code: "[a, b, c]"}
"""
    )
    created: list[str] = []

    async def go() -> Any:
        k = Kernel(KernelConfig(home=tmp_path, run=RunConfig(max_concurrency=4)))
        backend = k.services().sandbox
        real = backend.start

        async def counting(run_id: str, workspace: Path, **kw: Any) -> Any:
            created.append(run_id)
            return await real(run_id, workspace, **kw)

        backend.start = counting
        return await k.run(plan=plan)

    result = asyncio.run(go())
    assert result.status is RunStatus.COMPLETED, result.reason
    assert len(created) == 1, created
    pids = result.outputs["seen"]["value"]
    assert len(set(pids)) == 1  # one interpreter ran every cell
    print(f"FIGURE sandbox_sessions_per_run concurrent_python_steps=3 sessions={len(created)}")


def test_reaping_leaves_live_owners_alone_and_tolerates_races(docker_client: Any) -> None:
    from sgr_kernel._procs import owner_tag
    from sgr_kernel.sandbox._client import default_image

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = docker_client.containers.create(
            default_image(),
            command=["true"],
            labels={LABEL: "1", OWNER_LABEL: owner_tag(sleeper.pid), RUN_LABEL: "live"},
        )
        host = owner_tag().split(":")[0]
        reused = docker_client.containers.create(
            default_image(),
            command=["true"],
            # A live pid that started at another time: its owner is gone, the pid reused.
            labels={LABEL: "1", OWNER_LABEL: f"{host}:{sleeper.pid}:1", RUN_LABEL: "reused"},
        )
        dead = docker_client.containers.create(
            default_image(),
            command=["true"],
            labels={LABEL: "1", OWNER_LABEL: f"{host}:999999:1", RUN_LABEL: "dead"},
        )
        removed = set(reap_orphans(docker_client))
        assert reused.id in removed and dead.id in removed
        assert live.id not in removed
        live.reload()  # still there
        # Two reapers at once over containers removed under them: no error either way.
        for _ in range(3):
            docker_client.containers.create(
                default_image(),
                command=["true"],
                labels={LABEL: "1", OWNER_LABEL: f"{host}:999999:1", RUN_LABEL: "race"},
            )

        async def race() -> list[list[str]]:
            return list(
                await asyncio.gather(
                    *(asyncio.to_thread(reap_orphans, docker_client) for _ in range(4))
                )
            )

        results = asyncio.run(race())
        assert sum(len(r) for r in results) == 3
        assert _containers(docker_client, "race") == []
    finally:
        sleeper.kill()
        sleeper.wait()
        reap_orphans(docker_client)
    assert _containers(docker_client, "live") == []
    print("FIGURE sandbox_reaper live_owner_kept=1 pid_reused_reaped=1 race_errors=0")


def test_cancelled_start_leaves_no_container(tmp_path: Path, docker_client: Any) -> None:
    from sgr_kernel.sandbox.docker import DockerSandbox

    ws = tmp_path / "ws"
    ws.mkdir()

    async def go() -> None:
        sandbox = DockerSandbox()
        try:
            task = asyncio.ensure_future(sandbox.start("cancelled-start", ws))
            await asyncio.sleep(0.05)  # inside the engine's create call
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            sandbox.close()

    asyncio.run(go())
    assert _containers(docker_client, "cancelled-start") == []


def test_restore_skips_served_copies_and_starts_after_a_lost_session() -> None:
    """The restore cells come from the log: copies served on resume are not run twice."""
    from sgr_kernel.engine._session_state import _own_cells
    from sgr_kernel.trace.base import Record

    def rec(seq: int, t: RecordType, **data: Any) -> Record:
        return Record(seq=seq, ts=0.0, type=t, step="s", data={"kind": "sandbox", **data})

    records = (
        rec(0, RecordType.INTENT, key="k1", request={"code": "x = 1"}),
        rec(1, RecordType.RESULT, key="k1", ok=True, response={}),
        rec(2, RecordType.INTENT, key="k2", request={"code": "x = 1"}, carried=True),
        rec(3, RecordType.RESULT, key="k2", ok=True, response={}, carried=True),
        rec(4, RecordType.INTENT, key="k3", request={"code": "y = 2"}),
        rec(5, RecordType.INTENT, key="k4", request={"code": "lost"}),
        rec(6, RecordType.RESULT, key="k3", ok=True, response={"state_lost": True}),
    )
    assert _own_cells(records, None) == ["y = 2"]
