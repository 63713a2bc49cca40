"""Model-written code on a remote step runs in a sandbox container on the worker's host
(``sgr.sandbox``), never in the worker's process; a host without Docker refuses clearly."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from remote_helpers import remote_plan

from sgr_kernel.dispatch.config import load_dispatch_settings
from sgr_kernel.dispatch.dask import DaskDispatcher
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.status import RunStatus
from sgr_kernel.testing.jobs import RemoteJobSkill

pytestmark = [pytest.mark.dask, pytest.mark.docker]

CODE = "import os\nprint('pid', os.getpid())\nopen('/workspace/out.txt', 'w').write('x')\n6 * 7"


def _sandbox_or_skip() -> None:
    from sgr_kernel.errors import SandboxUnavailable
    from sgr_kernel.sandbox._client import connect, default_image, require_image

    try:
        require_image(connect(timeout=30), default_image())
    except SandboxUnavailable as e:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the Docker sandbox is unusable: {e}")
        pytest.skip(str(e))


def _run(home: Path, d: Any) -> tuple[Kernel, Any]:
    plan = remote_plan({"code": {"job_type": "sgr.sandbox", "params": {"code": CODE}}})
    k = Kernel(KernelConfig(home=home), skills={"remote_job": RemoteJobSkill}, dispatcher=d)
    return k, asyncio.run(k.run(plan=plan))


def test_generated_code_runs_in_a_sandbox_on_the_workers_host(
    tmp_path: Path, embedded: Any
) -> None:
    _sandbox_or_skip()
    k, result = _run(tmp_path, embedded)
    assert result.status is RunStatus.COMPLETED, k.show(result.run_id)
    out = result.outputs["code"]["result"]
    assert out["ok"] and out["value"] == 42
    # pid 1 is the container's init; a worker process would have a host pid.
    assert out["stdout"].startswith("pid ") and int(out["stdout"].split()[1]) < 100
    (art,) = [a for a in out["artifacts"] if a["name"] == "out.txt"]  # the workspace came back
    assert k.store.get_artifact(result.run_id, art["sha256"]) == b"x"
    print("FIGURE remote_sandbox ran_in=container value=42")


def test_a_worker_host_without_docker_refuses_generated_code(
    tmp_path: Path, make_external: Any
) -> None:
    cluster = make_external()
    cluster.start_scheduler()
    cluster.start_workers(env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    cluster.wait_workers(1)
    d = DaskDispatcher(settings=load_dispatch_settings(env={}, address=cluster.address))
    try:
        k, result = _run(tmp_path, d)
    finally:
        asyncio.run(d.close())
    assert result.status is RunStatus.FAILED
    err = k.show(result.run_id).steps[0].error or ""
    assert err.startswith("RemoteJobError") and "cannot run model-written code" in err, err
    assert "never in a worker process" in err
