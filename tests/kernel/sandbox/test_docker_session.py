"""The Docker sandbox through its real code path: policy, state, deadlines, artifacts, orphans."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from sgr_kernel.errors import SandboxUnavailable
from sgr_kernel.sandbox._profile import LABEL, RUN_LABEL
from sgr_kernel.sandbox.base import SandboxLimits
from sgr_kernel.sandbox.docker import DockerSandbox

pytestmark = pytest.mark.docker


def _containers(client: Any, run_id: str) -> list[Any]:
    return client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})


def test_policy_every_hardening_field_holds(docker_client: Any, workspace: Path) -> None:
    limits = SandboxLimits(memory_mb=256, cpus=0.5, pids=64, tmpfs_mb=16)

    async def go() -> dict[str, Any]:
        session = await DockerSandbox(limits=limits).start("policy-run", workspace)
        try:
            return docker_client.api.inspect_container(session.container.id)  # type: ignore[no-any-return]
        finally:
            await session.close()

    info = asyncio.run(go())
    hc, cfg = info["HostConfig"], info["Config"]
    mounts = info["Mounts"]
    checks = {
        "network none": hc["NetworkMode"] == "none",
        "read-only rootfs": hc["ReadonlyRootfs"] is True,
        "cap drop ALL": hc["CapDrop"] == ["ALL"] and not hc["CapAdd"],
        "no-new-privileges": "no-new-privileges" in (hc["SecurityOpt"] or []),
        "non-root user": cfg["User"] not in ("", "0", "root") and not cfg["User"].startswith("0:"),
        "pids limit": hc["PidsLimit"] == 64,
        "memory limit": hc["Memory"] == 256 << 20,
        "swap equals memory": hc["MemorySwap"] == hc["Memory"],
        "cpu limit": hc["NanoCpus"] == 500_000_000,
        "not privileged": hc["Privileged"] is False,
        "no devices": not hc["Devices"],
        "init": hc["Init"] is True,
        "tmpfs /tmp size-limited noexec": "size=16m" in hc["Tmpfs"]["/tmp"]
        and "noexec" in hc["Tmpfs"]["/tmp"],
        "only the workspace bound": len(mounts) == 1
        and mounts[0]["Destination"] == "/workspace"
        and Path(mounts[0]["Source"]) == workspace.resolve(),
        "no docker socket": all("docker.sock" not in m["Source"] for m in mounts),
        "default seccomp": not any("seccomp=unconfined" in o for o in hc["SecurityOpt"] or []),
        "no host namespaces": hc["PidMode"] in ("", "private")
        and hc["IpcMode"] in ("private", "shareable", "")
        and hc["UTSMode"] == ""
        and hc["UsernsMode"] == "",
        "ulimits nofile/core/fsize": {u["Name"] for u in hc["Ulimits"]}
        == {"nofile", "core", "fsize"},
        "no log driver": hc["LogConfig"]["Type"] == "none",
        "labelled with the run": cfg["Labels"].get(LABEL) == "1"
        and cfg["Labels"].get(RUN_LABEL) == "policy-run",
        "auto remove": hc["AutoRemove"] is True,
        "stdin closes with the kernel": cfg["StdinOnce"] is True,
    }
    held = sum(checks.values())
    print(f"FIGURE sandbox policy assertions={len(checks)} held={held}/{len(checks)}")
    assert held == len(checks), [k for k, v in checks.items() if not v]
    assert _containers(docker_client, "policy-run") == []


def test_state_persists_and_interrupt_keeps_it(docker_client: Any, workspace: Path) -> None:
    async def go() -> list[Any]:
        sb = DockerSandbox(interrupt_grace_s=3)
        session = await sb.start("state-run", workspace)
        try:
            r1 = await session.execute("import numpy as np\nx = np.arange(5)\nint(x.sum())")
            r2 = await session.execute("y = x * 2\ny.tolist()")
            r3 = await session.execute("import time\ntime.sleep(60)", timeout_s=1)
            r4 = await session.execute("y.tolist()")
            return [r1, r2, r3, r4]
        finally:
            await session.close()

    r1, r2, r3, r4 = asyncio.run(go())
    assert r1.ok and r1.value == 10
    assert r2.ok and r2.value == [0, 2, 4, 6, 8]
    assert r3.timed_out and not r3.ok and not r3.state_lost and r3.error_type == "SandboxTimeout"
    assert "KeyboardInterrupt" in (r3.error or "")
    assert r4.ok and r4.value == [0, 2, 4, 6, 8] and not r4.state_lost
    print("FIGURE sandbox state kept across 3 executions and 1 interrupt: yes")


def test_deadline_kills_code_that_ignores_interrupts(docker_client: Any, workspace: Path) -> None:
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"

    async def go() -> list[Any]:
        session = await DockerSandbox(interrupt_grace_s=0.5).start("deadline-run", workspace)
        try:
            await session.execute("z = 1")
            first = session.container.id
            r = await session.execute(code, timeout_s=1)
            after = await session.execute("'z' in dir()")
            return [r, after, first != session.container.id]
        finally:
            await session.close()

    r, after, replaced = asyncio.run(go())
    assert r.timed_out and r.state_lost and not r.ok
    assert after.ok and after.value is False  # a fresh interpreter: z is gone, as reported
    assert replaced
    assert _containers(docker_client, "deadline-run") == []
    print("FIGURE sandbox deadline kill: restarted=1 state_lost_reported=1 orphans=0")


def test_figure_and_output_files_come_back(docker_client: Any, workspace: Path, store: Any) -> None:
    code = textwrap.dedent(
        """
        import matplotlib.pyplot as plt
        import pandas as pd
        df = pd.DataFrame({"m": [1, 2, 3], "rev": [3.0, 1.5, 4.2]})
        df.plot(x="m", y="rev")
        df.to_csv("/workspace/out/table.csv", index=False)
        len(df)
        """
    )

    async def go() -> Any:
        session = await DockerSandbox(store=store).start("art-run", workspace)
        try:
            return await session.execute(code, timeout_s=60)
        finally:
            await session.close()

    r = asyncio.run(go())
    assert r.ok, r.error
    names = sorted(a.name for a in r.artifacts)
    assert names[0].startswith("figure-") and names[0].endswith(".png")
    assert names[1] == "table.csv"
    png = next(a for a in r.artifacts if a.name.endswith(".png"))
    assert store.get_artifact("art-run", png.sha256)[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.media_type == "image/png"
    print(f"FIGURE sandbox artifacts returned={len(r.artifacts)} (1 figure, 1 file)")


def test_missing_image_fails_closed(docker_client: Any, workspace: Path) -> None:
    async def go() -> None:
        await DockerSandbox(image="sgr-sandbox:does-not-exist").start("x", workspace)

    with pytest.raises(SandboxUnavailable, match="sgr sandbox build"):
        asyncio.run(go())
    print("FIGURE sandbox fail-closed missing image: SandboxUnavailable=1 ran_on_host=0")


_KERNEL = """
import asyncio, sys, time
from pathlib import Path
from sgr_kernel.sandbox.docker import DockerSandbox
async def main():
    s = await DockerSandbox().start(sys.argv[1], Path(sys.argv[2]))
    r = await s.execute("1 + 1")
    print("READY", r.value, flush=True)
    await s.execute("while True:\\n    pass", timeout_s=3600)
asyncio.run(main())
"""


def test_no_orphan_after_sigkill_of_the_kernel(docker_client: Any, workspace: Path) -> None:
    run_id = f"orphan-{os.getpid()}"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KERNEL, run_id, str(workspace)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY 2"
    time.sleep(0.5)  # the kernel is now waiting on an endless execution
    assert len(_containers(docker_client, run_id)) == 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    left = _containers(docker_client, run_id)
    for _ in range(100):  # polled, not timed: the engine removes it asynchronously
        if not left:
            break
        time.sleep(0.1)
        left = _containers(docker_client, run_id)
    print(f"FIGURE sandbox orphans after SIGKILL of the kernel: {len(left)}")
    assert left == []
