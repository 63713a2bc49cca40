"""The Dask dispatcher on a real embedded LocalCluster: results, progress, artifacts, strict
replay, poison jobs, deadlines, missing resources and bad addresses."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from dask_procs import wait_until
from remote_helpers import commits, progress_events, remote_plan, starts

from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.status import RunStatus
from sgr_kernel.testing.jobs import RemoteJobSkill, executions

pytestmark = pytest.mark.dask


def _kernel(home: Path, dispatcher: Any) -> Kernel:
    return Kernel(
        KernelConfig(home=home), skills={"remote_job": RemoteJobSkill}, dispatcher=dispatcher
    )


def test_results_progress_artifacts_and_strict_replay(tmp_path: Path, embedded: Any) -> None:
    log = tmp_path / "exec.log"
    plan = remote_plan(
        {
            "a": {
                "job_type": "sgr_test_work",
                "params": {"x": 3, "seconds": 1.0, "steps": 5, "log": str(log), "artifact": "hi"},
            },
            "b": {"job_type": "sgr_test_work", "params": {"x": 4, "log": str(log)}},
        }
    )

    async def go() -> tuple[Any, Any, int, int]:
        k = _kernel(tmp_path, embedded)
        before = embedded.submitted
        result = await k.run(plan=plan)
        submitted = embedded.submitted - before
        report = await k.replay(result.run_id)
        return k, result, submitted, embedded.submitted - before - submitted, report

    k, result, submitted, replay_submits, report = asyncio.run(go())  # type: ignore[misc]
    assert result.status is RunStatus.COMPLETED, k.show(result.run_id)
    assert result.outputs["a"]["result"]["y"] == 9 and result.outputs["b"]["result"]["y"] == 16
    arts = result.outputs["a"]["result"]["artifacts"]
    assert [a["name"] for a in arts] == ["result.txt"]
    assert k.store.get_artifact(result.run_id, arts[0]["sha256"]) == b"hi"
    records = k.store.read(result.run_id).records
    progress = progress_events(records, "a")
    assert progress and progress[-1]["fraction"] == 1.0 and progress[-1]["message"] == "slice 5/5"
    assert len(progress) <= 5  # bounded: at most one per interval, plus the last
    ok, committed = commits(records)
    assert set(ok.values()) == {1} and set(committed.values()) == {1}
    assert submitted == 2 and set(starts(log).values()) == {1}
    assert report.ok and report.live_calls == 0 and replay_submits == 0
    print(f"FIGURE replay live_calls={report.live_calls} submits={replay_submits}")


def test_a_poison_job_fails_the_step_clearly(tmp_path: Path, embedded: Any) -> None:
    log = tmp_path / "exec.log"
    plan = remote_plan({"p": {"job_type": "sgr_test_poison", "params": {"log": str(log)}}})
    k = _kernel(tmp_path, embedded)
    result = asyncio.run(k.run(plan=plan))
    assert result.status is RunStatus.FAILED
    err = k.show(result.run_id).steps[0].error or ""
    assert err.startswith("RemoteJobError") and "killed its worker" in err, err
    deaths = len(executions(log))
    print(f"FIGURE poison worker_deaths={deaths} error=RemoteJobError")
    # The cluster still works: the nannies replace the dead workers.
    embedded.client.wait_for_workers(2, timeout=60)
    ok = asyncio.run(k.run(plan=remote_plan({"n": {"job_type": "sgr_test_work"}})))
    assert ok.status is RunStatus.COMPLETED


def test_a_hung_job_past_its_deadline_times_out_and_its_worker_restarts(
    tmp_path: Path, embedded: Any
) -> None:
    log = tmp_path / "exec.log"
    plan = remote_plan(
        {"h": {"job_type": "sgr_test_hang", "params": {"log": str(log)}, "timeout_s": 1.5}}
    )
    k = _kernel(tmp_path, embedded)
    result = asyncio.run(k.run(plan=plan))
    assert result.status is RunStatus.FAILED
    err = k.show(result.run_id).steps[0].error or ""
    assert err.startswith("StepTimeout") and "deadline" in err, err
    (pid,) = {p for _, p, _ in executions(log)}
    assert not _alive(pid), "the worker running the hung job was not restarted"
    nxt = asyncio.run(k.run(plan=remote_plan({"n": {"job_type": "sgr_test_work"}})))
    assert nxt.status is RunStatus.COMPLETED
    print("FIGURE hung_job timeout=StepTimeout worker_restarted=1 next_job=COMPLETED")


def test_a_resource_nobody_has_fails_within_the_wait(tmp_path: Path, embedded: Any) -> None:
    plan = remote_plan({"g": {"job_type": "sgr_test_work", "resources": {"GPU": 1}}})
    k = _kernel(tmp_path, embedded)
    result = asyncio.run(k.run(plan=plan))
    assert result.status is RunStatus.FAILED
    err = k.show(result.run_id).steps[0].error or ""
    assert err.startswith("RemoteResourceUnavailable") and "GPU=1" in err, err
    assert "sgr worker" in err


def test_an_unreachable_scheduler_fails_the_step_in_one_line(tmp_path: Path) -> None:
    from dask_procs import free_port

    from sgr_kernel.dispatch.config import load_dispatch_settings
    from sgr_kernel.dispatch.dask import DaskDispatcher

    settings = load_dispatch_settings(
        env={}, address=f"tcp://127.0.0.1:{free_port()}", connect_timeout_s=1.0
    )
    k = _kernel(tmp_path, DaskDispatcher(settings=settings))
    result = asyncio.run(k.run(plan=remote_plan({"x": {"job_type": "sgr_test_work"}})))
    assert result.status is RunStatus.FAILED
    err = k.show(result.run_id).steps[0].error or ""
    assert err.startswith("RemoteJobError") and "cannot reach a Dask scheduler" in err, err
    assert "\n" not in err


def _alive(pid: int) -> bool:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["cluster", "connect", "nonsense"], "not a Dask scheduler address"),
        (["cluster", "connect", "tcp://127.0.0.1"], "has no port"),
        (["cluster", "--address", "tcp://127.0.0.1:1"], "nothing answers at tcp://127.0.0.1:1"),
        (["worker", "tcp://127.0.0.1:1", "--wait", "0"], "nothing answers"),
    ],
)
def test_bad_addresses_are_one_line_on_the_cli(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sgr_kernel.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err


def test_a_worker_says_it_waits_for_its_scheduler_then_fails_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sgr_kernel.cli import main

    assert main(["worker", "tcp://127.0.0.1:1", "--wait", "0.5"]) == 2
    note, error = capsys.readouterr().err.strip().splitlines()
    assert note == "sgr worker: nothing answers at tcp://127.0.0.1:1 yet; waiting up to 0.5 s"
    assert "nothing answers at tcp://127.0.0.1:1" in error and "after waiting 0.5 s" in error


def test_spec_retries_resubmit_a_failed_job_under_the_same_key(
    tmp_path: Path, embedded: Any
) -> None:
    from sgr_kernel.errors import RemoteJobError
    from sgr_kernel.models.remote import RemoteJobSpec

    log = tmp_path / "exec.log"

    def spec(key: str, retries: int) -> RemoteJobSpec:
        params = {"log": str(log), "fail_times": 2}
        return RemoteJobSpec(
            job_type="sgr_test_flaky", params=params, idempotency_key=key, retries=retries
        )

    async def go() -> tuple[dict[str, Any], str]:
        h = await embedded.submit(spec("t:ok:1", 2))
        out = await embedded.result(h, timeout_s=60)
        await embedded.release(h)
        h = await embedded.submit(spec("t:short:1", 1))
        try:
            await embedded.result(h, timeout_s=60)
        except RemoteJobError as e:
            return out, str(e)
        finally:
            await embedded.release(h)
        return out, ""

    out, err = asyncio.run(go())
    assert out == {"runs": 3}
    assert "flaky failure 2 of 2" in err
    assert starts(log) == {"t:ok:1": 3, "t:short:1": 2}


def test_step_retries_of_a_failed_remote_job_run_it_afresh(tmp_path: Path, embedded: Any) -> None:
    log = tmp_path / "exec.log"
    spec = {"job_type": "sgr_test_flaky", "params": {"log": str(log), "fail_times": 2}}
    k = _kernel(tmp_path, embedded)
    result = asyncio.run(k.run(plan=remote_plan({"f": spec}, attempts=3)))  # backoff 0
    assert result.status is RunStatus.COMPLETED, k.show(result.run_id)
    assert result.outputs["f"]["result"] == {"runs": 3}
    ok, committed = commits(k.store.read(result.run_id).records)
    assert list(ok.values()) == [1] and list(committed.values()) == [1]
    assert list(starts(log).values()) == [3]  # same idempotency key, three executions
    assert k.show(result.run_id).steps[0].attempts == 3


def test_a_burst_of_jobs_is_held_in_batches_and_nothing_stays_held(embedded: Any) -> None:
    from sgr_kernel.models.remote import RemoteJobSpec

    n = 300

    async def one(i: int) -> dict[str, Any]:
        spec = RemoteJobSpec(
            job_type="sgr_test_work", idempotency_key=f"burst:{i}", params={"x": i}
        )
        h = await embedded.submit(spec)
        try:
            return await embedded.result(h, timeout_s=120)
        finally:
            await embedded.release(h)

    async def go() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(one(i) for i in range(n))))

    before = embedded._holds.round_trips
    results = asyncio.run(go())
    assert [r["y"] for r in results] == [i * i for i in range(n)]

    def held() -> list[str]:
        return [k for k in embedded.client.list_datasets() if str(k).startswith("sgr/burst:")]

    wait_until("the burst's holds to be dropped", lambda: not held(), limit_s=30)
    trips = embedded._holds.round_trips - before
    assert trips < n  # one publish and one unpublish per job would be 2 * n
    print(f"FIGURE burst jobs={n} hold_round_trips={trips} held_after=0")
