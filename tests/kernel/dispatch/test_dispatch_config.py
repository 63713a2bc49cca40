"""Dispatcher settings: precedence, one-line errors, and the default dispatcher they pick."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from remote_helpers import remote_plan

from sgr_kernel.dispatch.config import load_dispatch_settings
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.errors import ConfigError, RemoteJobError
from sgr_kernel.models.status import RunStatus
from sgr_kernel.testing.jobs import RemoteJobSkill


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(body)
    return tmp_path


def test_defaults_are_dask_on_an_embedded_cluster(tmp_path: Path) -> None:
    s = load_dispatch_settings(env={"SGR_HOME": str(tmp_path)}, project_dir=tmp_path)
    assert s.dispatcher == "auto" and s.address is None and s.local_workers == 2
    assert s.uses_dask  # the test environment has the dask extra


@pytest.mark.dask
def test_by_default_remote_steps_run_on_an_embedded_dask_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SGR_DISPATCHER", raising=False)
    monkeypatch.delenv("SGR_DASK_ADDRESS", raising=False)
    monkeypatch.setenv("SGR_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # no project pyproject.toml choosing for us
    kernel = Kernel(KernelConfig(home=tmp_path), skills={"remote_job": RemoteJobSkill})
    plan = remote_plan({"a": {"job_type": "sgr_test_work", "params": {"x": 7}}})

    async def go() -> Any:
        dispatcher = kernel.services().dispatcher
        try:
            return dispatcher.name, await kernel.run(plan=plan)
        finally:
            await dispatcher.close()

    name, result = asyncio.run(go())
    assert name == "dask" and result.status is RunStatus.COMPLETED, result.reason
    out = result.outputs["a"]["result"]
    assert out["y"] == 49 and out["pid"] != os.getpid()  # ran in a worker process
    print(f"FIGURE default_dispatcher={name} worker_pid_differs=1")


def test_env_beats_the_project_and_an_address_implies_dask(tmp_path: Path) -> None:
    proj = _project(
        tmp_path,
        '[tool.sgr]\ndispatcher = "inline"\n[tool.sgr.dask]\nresource_wait_s = 3\n',
    )
    env = {"SGR_HOME": str(tmp_path), "SGR_DASK_ADDRESS": "tcp://h:8786"}
    s = load_dispatch_settings(env=env, project_dir=proj)
    assert s.dispatcher == "dask" and s.address == "tcp://h:8786" and s.resource_wait_s == 3
    assert s.sources["address"] == "SGR_DASK_ADDRESS"
    s = load_dispatch_settings(env={**env, "SGR_DISPATCHER": "inline"}, project_dir=proj)
    assert s.dispatcher == "inline"  # named explicitly: the address is kept for `sgr cluster`


def test_home_config_is_the_lowest_layer(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('dispatcher = "dask"\n[dask]\nlocal_workers = 3\n')
    (tmp_path / "p").mkdir()
    proj = _project(tmp_path / "p", "")
    s = load_dispatch_settings(env={"SGR_HOME": str(tmp_path)}, project_dir=proj)
    assert s.dispatcher == "dask" and s.local_workers == 3


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[tool.sgr.dask]\nadress = 'tcp://x:1'\n", r"unknown dask setting\(s\) adress"),
        ("[tool.sgr.dask]\nlocal_workers = 0\n", "local_workers"),
        ("[tool.sgr]\ndispatcher = 'ray'\n", "dispatcher"),
    ],
)
def test_bad_settings_are_one_config_error(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as e:
        load_dispatch_settings(
            env={"SGR_HOME": str(tmp_path)}, project_dir=_project(tmp_path, body)
        )
    assert "\n" not in str(e.value)


def test_the_default_dispatcher_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from sgr_kernel import _defaults

    monkeypatch.delenv("SGR_DASK_ADDRESS", raising=False)
    monkeypatch.setenv("SGR_DISPATCHER", "inline")
    assert _defaults.default_dispatcher().name == "inline"
    monkeypatch.setenv("SGR_DISPATCHER", "dask")
    d = _defaults.default_dispatcher()
    assert d.name == "dask" and d._client is None  # nothing started until the first job
    monkeypatch.delenv("SGR_DISPATCHER")
    d = _defaults.default_dispatcher()
    assert d.name == "dask" and d._client is None  # the default: Dask, started lazily


def test_an_unknown_job_type_is_a_clear_error_before_anything_connects() -> None:
    from sgr_kernel.dispatch.dask import DaskDispatcher
    from sgr_kernel.models.remote import RemoteJobSpec

    pytest.importorskip("distributed")
    d = DaskDispatcher(settings=load_dispatch_settings(env={}, address="tcp://127.0.0.1:9"))
    spec = RemoteJobSpec(job_type="no_such_job", idempotency_key="r:s:1")
    with pytest.raises(RemoteJobError, match="no job function registered for 'no_such_job'"):
        asyncio.run(d.submit(spec))
    assert d._client is None
