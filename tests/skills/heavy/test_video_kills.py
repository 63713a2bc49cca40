"""``video_render`` survives the death of what runs it, on real Dask.

- The worker rendering is SIGKILLed once the job has reported frames: Dask renders again on the
  other worker, the step commits once, its MP4 and poster are stored once by content, and the
  killed render's half-written files are reaped on that host.
- The kernel (an ``sgr run`` process) is SIGKILLed mid-render: ``sgr resume`` re-attaches to the
  job the scheduler still holds, by its key: the job runs once in all.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from dask_procs import SGR, cpu_cluster, executions_seen, need_dask, sgr_run_killed
from heavy_helpers import SKILLS, one_step, progress
from kill_helpers import artifact_check, remote_key, run_killing_its_worker
from remote_helpers import commits

from sgr_kernel.models.status import RunStatus
from sgr_kernel.trace.wal import FileTraceStore

pytestmark = [pytest.mark.dask, pytest.mark.slow]

STORYBOARD = {  # 144 frames of 720p: a few seconds of rendering, progress every 0.5 s
    "title": "Quarterly revenue",
    "fps": 24,
    "resolution": "720p",
    "scenes": [
        {"title": "Quarterly revenue", "layout": "title", "duration_s": 2},
        {
            "title": "By region",
            "layout": "bar",
            "duration_s": 2,
            "data": {"labels": ["north", "south", "west"], "series": {"eur": [3.1, 2.4, 4.0]}},
        },
        {
            "title": "By month",
            "layout": "line",
            "duration_s": 2,
            "data": {"labels": ["jan", "feb", "mar"], "series": {"eur": [1.0, 1.4, 1.9]}},
        },
    ],
}
FRAMES = 144


def test_a_video_job_whose_worker_is_killed_reruns_and_stores_its_files_once(
    tmp_path: Path,
) -> None:
    need_dask()
    # killed once the render has reported a couple of frame counts
    k, res, kills, executions, leftovers = run_killing_its_worker(
        tmp_path,
        one_step("video_render", {"storyboard": STORYBOARD}, step="v"),
        2,
        skills=dict(SKILLS),
    )
    assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
    out = res.outputs["v"]
    records = k.store.read(res.run_id).records
    ok, committed = commits(records)
    reruns = executions - 1
    # the notebook saw each execution's progress from its start (a rerun counts from 1 again)
    shown_starts = sum(1 for p in progress(records, "v") if p["seq"] == 1)
    n_art, bad = artifact_check(tmp_path / "home", res.run_id, out["artifacts"])
    print(
        f"FIGURE video_kill killed={kills} committed={committed['v']} "
        f"duplicate_commits={sum(c - 1 for c in ok.values())} reruns={reruns} "
        f"artifacts={n_art} artifact_problems={bad} worker_leftovers={leftovers} "
        f"progress_starts_shown={shown_starts} frames={out['frames']}"
    )
    assert kills == 1 and reruns >= 1 and shown_starts == executions
    assert committed == {"v": 1} and list(ok.values()) == [1]
    assert out["frames"] == FRAMES and out["codec"] == "avc1"
    assert sorted(a["name"] for a in out["artifacts"]) == ["poster.png", "video.mp4"]
    assert n_art == 2 and bad == 0
    assert leftovers == 0  # the killed render's half-written files were reaped on this host


def _frames_logged(run: Path) -> bool:
    """A render's own progress ("frame i/n") has reached the run's log."""
    try:
        return '"frame ' in (run / "wal.jsonl").read_text()
    except FileNotFoundError:
        return False


def test_a_killed_kernel_resumes_a_render_by_reattaching_not_rerunning(tmp_path: Path) -> None:
    need_dask()
    with cpu_cluster(tmp_path) as cluster:
        plan = tmp_path / "plan.json"
        step = {"id": "v", "skill": "video_render", "capabilities": ["remote"]}
        step["inputs"] = {"storyboard": STORYBOARD}
        plan.write_text(json.dumps({"name": "video", "steps": [step]}))
        home = tmp_path / "home"
        env = {**cluster.env, "SGR_HOME": str(home)}
        run_id = sgr_run_killed(plan, env, _frames_logged, "frames rendered")
        resumed = subprocess.run(  # noqa: PLW1510 (checked below)
            [*SGR, "resume", run_id, "--json"], env=env, capture_output=True, text=True, timeout=300
        )
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        records = FileTraceStore(home).read(run_id).records
        key = remote_key(records)
        c = cluster.client()
        try:
            executions = executions_seen(c, key)
        finally:
            c.close()
        ok, committed = commits(records)
        view = json.loads(subprocess.run(  # noqa: PLW1510 (the output is parsed)
            [*SGR, "show", run_id, "--json"], env=env, capture_output=True, text=True, timeout=120
        ).stdout)  # fmt: skip
        out = view["steps"][0]["output"]
        n_art, bad = artifact_check(home, run_id, out["artifacts"])
        print(
            f"FIGURE video_kernel_kill executions={executions} committed={committed['v']} "
            f"duplicate_commits={sum(c - 1 for c in ok.values())} artifacts={n_art} "
            f"artifact_problems={bad}"
        )
        assert json.loads(resumed.stdout)["status"] == "COMPLETED"
        assert executions == 1  # re-attached by key: the render ran once in all
        assert committed == {"v": 1} and list(ok.values()) == [1]
        assert out["frames"] == FRAMES and n_art == 2 and bad == 0
