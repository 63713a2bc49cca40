"""Remote work when things die, on real Dask: workers killed mid-job, the ``sgr run`` process
SIGKILLed with jobs in flight and resumed, the scheduler killed and restarted, and a cancel
from another process. Jobs append a line per execution, so a duplicate shows; the WAL shows
what was committed. At least once on workers, exactly once in the trace."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dask_procs import ExternalCluster, WorkerKiller, logged_starts, wait_until
from remote_helpers import commits, plan_file, progress_events, remote_plan, starts

from sgr_kernel.dispatch.config import load_dispatch_settings
from sgr_kernel.dispatch.dask import DaskDispatcher
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.testing.jobs import RemoteJobSkill, executions
from sgr_kernel.trace.wal import FileTraceStore

pytestmark = pytest.mark.dask


def _kernel(home: Path, dispatcher: Any) -> Kernel:
    return Kernel(
        KernelConfig(home=home), skills={"remote_job": RemoteJobSkill}, dispatcher=dispatcher
    )


def _sgr(home: Path, *args: str, env: dict[str, str]) -> list[str]:
    return [sys.executable, "-m", "sgr_kernel.testing.remote_cli", "--home", str(home), *args]


def _only_run(home: Path) -> str:
    return wait_until("the run to be created", lambda: _runs(home))[0]


def _runs(home: Path) -> list[str]:
    d = home / "runs"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def _cli(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: PLW1510 (callers assert the return code)
        _sgr(home, *args, env=env), env=env, capture_output=True, text=True, timeout=60
    )


@contextlib.contextmanager
def _long_job_run(
    tmp_path: Path, env: dict[str, str], step: str
) -> Iterator[tuple[subprocess.Popen[str], Path, Path, str]]:
    """``sgr run --json`` of one two-minute job in a child process, handed over once the job
    started on a worker: (the child, its home, the execution log, the run id)."""
    home, log = tmp_path / "home", tmp_path / "exec.log"
    params = {"seconds": 120.0, "steps": 1200, "log": str(log)}
    plan = plan_file(
        tmp_path / "plan.json", {step: {"job_type": "sgr_test_work", "params": params}}
    )
    proc = subprocess.Popen(
        _sgr(home, "run", str(plan), "--json", env=env),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until("the job to start", lambda: starts(log))
        yield proc, home, log, _only_run(home)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_workers_killed_mid_job_lose_nothing_and_commit_once(tmp_path: Path) -> None:
    n = 4
    log = tmp_path / "exec.log"
    params = {"seconds": 2.0, "steps": 8, "log": str(log)}
    plan = remote_plan(
        {f"j{i}": {"job_type": "sgr_test_work", "params": {**params, "x": i}} for i in range(n)}
    )
    settings = load_dispatch_settings(env={}, allowed_failures=4, local_workers=2)
    d = DaskDispatcher(settings=settings)

    async def go() -> tuple[Kernel, Any]:
        k = _kernel(tmp_path, d)
        try:
            return k, await k.run(plan=plan)
        finally:
            await d.close()

    # kill -9 the worker running each job, once per job
    with WorkerKiller(logged_starts(log), limit=n) as killer:
        k, result = asyncio.run(go())
    killed = killer.killed
    view = k.show(result.run_id)
    lost = sum(1 for s in view.steps if s.status is not StepStatus.COMMITTED)
    ok, committed = commits(k.store.read(result.run_id).records)
    dup = sum(c - 1 for c in ok.values()) + sum(c - 1 for c in committed.values())
    reruns = sum(starts(log).values()) - n
    print(
        f"FIGURE jobs={n} killed={len(killed)} lost={lost} duplicate_commits={dup} reruns={reruns}"
    )
    assert result.status is RunStatus.COMPLETED, view
    assert lost == 0 and dup == 0 and len(ok) == n
    assert len(killed) == n and reruns >= n  # every kill really cost an execution
    assert sorted(result.outputs[f"j{i}"]["result"]["y"] for i in range(n)) == [0, 1, 4, 9]


def test_sgr_run_killed_with_jobs_in_flight_resumes_by_reattaching(
    tmp_path: Path, external: ExternalCluster
) -> None:
    n = 3
    home = tmp_path / "home"
    log = tmp_path / "exec.log"
    params = {"seconds": 4.0, "steps": 8, "log": str(log)}
    plan = plan_file(
        tmp_path / "plan.json",
        {f"j{i}": {"job_type": "sgr_test_work", "params": {**params, "x": i}} for i in range(n)},
    )
    env = external.env
    proc = subprocess.Popen(
        _sgr(home, "run", str(plan), "--json", env=env),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(f"{n} jobs to start", lambda: len(starts(log)) == n)
        run_id = _only_run(home)
        # Some progress is reported while the kernel lives, so the jobs are well under way.
        wait_until("progress", lambda: _progress_seen(home, run_id))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    wait_until("the held jobs to finish", lambda: sum(w == "end" for *_, w in executions(log)) == n)
    resumed = subprocess.run(  # noqa: PLW1510 (the return code is asserted)
        _sgr(home, "resume", run_id, "--json", env=env),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    records = FileTraceStore(home).read(run_id).records
    ok, committed = commits(records)
    execs = starts(log)
    caught_up = sum(
        1
        for i in range(n)
        if any(p.get("fraction") == 1.0 for p in progress_events(records, f"j{i}"))
    )
    print(
        f"FIGURE kernel_kill jobs={n} reattached={n - sum(c - 1 for c in execs.values())} "
        f"executions_max={max(execs.values())} duplicate_commits={sum(c - 1 for c in ok.values())} "
        f"progress_caught_up={caught_up}"
    )
    assert set(execs.values()) == {1}, execs  # nothing re-ran: every job was re-attached
    assert len(ok) == n and set(ok.values()) == {1} and set(committed.values()) == {1}
    assert caught_up == n
    out = json.loads(resumed.stdout)
    assert out["status"] == "COMPLETED"
    c = external.client()
    try:
        held = wait_until_released(c, run_id)
    finally:
        c.close()
    assert held == [], held  # the resumed kernel let go of the jobs it re-attached to
    before = len(executions(log))
    replay = subprocess.run(  # noqa: PLW1510 (the return code is asserted)
        _sgr(home, "replay", run_id, "--json", env=env),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    report = json.loads(replay.stdout)
    assert report["live_calls"] == 0 and not report["divergences"]
    assert len(executions(log)) == before  # strict replay submitted nothing


def wait_until_released(client: Any, run_id: str) -> list[str]:
    """The run's jobs the scheduler still holds, once releases (sent async) have landed."""
    from sgr_kernel.dispatch.cluster import cluster_view

    held: list[str] = []
    for _ in range(100):
        held = [j.key for j in cluster_view(client).jobs if j.run_id == run_id]
        if not held:
            break
        time.sleep(0.1)
    return held


def _progress_seen(home: Path, run_id: str) -> bool:
    wal = home / "runs" / run_id / "wal.jsonl"
    try:
        return '"progress"' in wal.read_text()
    except FileNotFoundError:
        return False


def test_scheduler_killed_and_restarted_resubmits_under_the_same_key(
    tmp_path: Path, make_external: Any
) -> None:
    cluster = make_external()
    cluster.start_scheduler()
    cluster.start_workers("--nworkers", "1", "--nthreads", "1", "--name", "w")
    cluster.wait_workers(1)
    log = tmp_path / "exec.log"
    plan = remote_plan(
        {
            "s": {
                "job_type": "sgr_test_work",
                "params": {"x": 5, "seconds": 4, "steps": 8, "log": str(log)},
            }
        }
    )
    settings = load_dispatch_settings(env={}, address=cluster.address, connect_timeout_s=30)
    d = DaskDispatcher(settings=settings)
    box: dict[str, Any] = {}

    async def go() -> None:
        k = _kernel(tmp_path / "home", d)
        box["k"] = k
        try:
            box["result"] = await k.run(plan=plan)
        finally:
            await d.close()

    t = threading.Thread(target=lambda: asyncio.run(go()))
    t.start()
    wait_until("the job to start", lambda: starts(log))
    cluster.kill_scheduler()
    cluster.start_scheduler()
    cluster.restart_workers()  # workers do not outlive their scheduler
    t.join(timeout=180)
    assert not t.is_alive(), "the run did not finish after the scheduler came back"
    k, result = box["k"], box["result"]
    ok, committed = commits(k.store.read(result.run_id).records)
    keys = {key for key, *_ in executions(log)}
    print(
        f"FIGURE scheduler_restart resubmitted={d.resubmitted} keys={len(keys)} "
        f"executions={starts(log)[next(iter(keys))]} commits={sum(ok.values())}"
    )
    assert result.status is RunStatus.COMPLETED, k.show(result.run_id)
    assert result.outputs["s"]["result"]["y"] == 25
    assert d.resubmitted == 1 and len(keys) == 1  # the same key both times
    assert sum(ok.values()) == 1 and set(committed.values()) == {1}


def test_cancel_from_another_process_stops_the_job(
    tmp_path: Path, external: ExternalCluster
) -> None:
    env = external.env
    with _long_job_run(tmp_path, env, "long") as (proc, home, log, run_id):
        shown = _cli(home, env, "cluster", "jobs", "--json")
        jobs = json.loads(shown.stdout)
        mine = [j for j in jobs if j["run_id"] == run_id]
        assert mine and mine[0]["step"] == "long" and mine[0]["state"] == "processing", jobs
        cancel = _cli(home, env, "cancel", run_id)
        assert cancel.returncode in (0, 5), cancel.stdout + cancel.stderr
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 5, out  # CANCELLED
    what = [w for key, _, w in executions(log)]
    assert what == ["start", "cancelled"], what  # stopped cooperatively, never finished
    c = external.client()
    try:
        from sgr_kernel.dispatch.cluster import cluster_view

        assert not [j for j in cluster_view(c).jobs if j.run_id == run_id]  # released
    finally:
        c.close()
    print("FIGURE cancel_other_process status=CANCELLED stopped=cooperative held_after=0")


def test_a_job_asking_for_a_gpu_runs_on_the_gpu_worker(
    tmp_path: Path, external: ExternalCluster
) -> None:
    plan = remote_plan(
        {"g": {"job_type": "sgr_test_work", "params": {"x": 2}, "resources": {"GPU": 1}}}
    )
    settings = load_dispatch_settings(env={}, address=external.address)
    d = DaskDispatcher(settings=settings)

    async def go() -> tuple[Kernel, Any, dict[str, Any]]:
        k = _kernel(tmp_path, d)
        try:
            result = await k.run(plan=plan)
            info = d.client.scheduler_info()["workers"]
            pids = d.client.run(os.getpid)
            return k, result, {pids[a]: w for a, w in info.items()}
        finally:
            await d.close()

    k, result, by_pid = asyncio.run(go())
    assert result.status is RunStatus.COMPLETED, k.show(result.run_id)
    worker = by_pid[result.outputs["g"]["result"]["pid"]]
    assert worker["resources"] == {"GPU": 1} and str(worker["name"]).startswith("gpu")


def test_priority_is_dask_priority_higher_first(tmp_path: Path, make_external: Any) -> None:
    from sgr_kernel.models.remote import RemoteJobSpec

    cluster = make_external()
    cluster.start_scheduler()
    cluster.start_workers("--nworkers", "1", "--nthreads", "1")
    cluster.wait_workers(1)
    log = tmp_path / "exec.log"
    d = DaskDispatcher(settings=load_dispatch_settings(env={}, address=cluster.address))

    def spec(key: str, priority: int, seconds: float = 0.05) -> RemoteJobSpec:
        params = {"seconds": seconds, "log": str(log)}
        return RemoteJobSpec(
            job_type="sgr_test_work", params=params, idempotency_key=key, priority=priority
        )

    async def go() -> None:
        handles = [await d.submit(spec("blocker", 0, seconds=2.0))]
        await asyncio.to_thread(wait_until, "the blocker to start", lambda: starts(log))
        for i in range(3):
            handles.append(await d.submit(spec(f"low{i}", 0)))
        for i in range(3):
            handles.append(await d.submit(spec(f"high{i}", 10)))
        for h in handles:
            await d.result(h, timeout_s=120)
            await d.release(h)
        await d.close()

    asyncio.run(go())
    order = [key for key, _, what in executions(log) if what == "start"][1:]
    print(f"FIGURE priority order={','.join(order)}")
    # The worker may already hold one queued low job; every high one runs before the rest.
    assert set(order[:4]) >= {"high0", "high1", "high2"}, order


def test_sgr_cluster_cancel_stops_a_job_from_outside_the_run(
    tmp_path: Path, external: ExternalCluster
) -> None:
    env = external.env
    with _long_job_run(tmp_path, env, "op") as (proc, home, log, run_id):
        wait_until("the job to be held", lambda: _progress_seen(home, run_id))
        cancel = _cli(home, env, "cluster", "cancel", run_id, "--json")
        assert cancel.returncode == 0, cancel.stdout + cancel.stderr
        assert json.loads(cancel.stdout) == {"cancelled": [f"{run_id}:op:1"]}
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out  # the step failed: its job was cancelled, not lost
    summary = json.loads(out)
    (step,) = summary["steps"]
    assert step["status"] == "FAILED" and "cancelled" in step["error"], step
    assert [w for *_, w in executions(log)] == ["start", "cancelled"]


def test_workers_started_before_their_scheduler_join_when_it_comes_up(
    tmp_path: Path, make_external: Any
) -> None:
    """Containers or a job script start a scheduler and its workers together; a worker that
    comes up first waits for the scheduler instead of exiting on the refused port."""
    cluster = make_external()
    cluster.start_workers("--nworkers", "1", "--name", "early", "--wait", "60")
    time.sleep(2.0)  # the worker is up, and nothing listens at the address yet
    ((worker, _),) = cluster.workers
    assert worker.poll() is None, (tmp_path / "workers.log").read_text()
    cluster.start_scheduler()
    cluster.wait_workers(1)
    print("FIGURE worker_before_scheduler joined=1")
