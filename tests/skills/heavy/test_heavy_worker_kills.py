"""``deep_research`` and ``video_render`` survive the death of what runs them, on real Dask.

- The worker running the job is SIGKILLed once the job has reported progress: Dask runs it
  again on the other worker (the nanny restarts the dead one), the step commits once, its
  artifacts are stored once by content, the run COMPLETES.
- The kernel itself (an ``sgr run`` process) is SIGKILLed mid-render: ``sgr resume`` re-attaches
  to the job the scheduler still holds, by its key: the job runs once in all.

How many times a job began is read from its progress history on the scheduler.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dask_procs import (
    SGR,
    WorkerKiller,
    cpu_cluster,
    executions_seen,
    need_dask,
    progressing,
    sgr_run_killed,
)
from fixture_site import serve_slow
from heavy_helpers import SKILLS, one_step
from remote_helpers import commits

from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.models.status import RunStatus
from sgr_kernel.testing.scripted import ScriptedLLM
from sgr_kernel.trace.base import Record, RecordType
from sgr_kernel.trace.wal import FileTraceStore
from sgr_skills.research import CorpusIndex, DeepResearchSkill

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


def _run_killing_its_worker(
    tmp: Path, plan: Any, min_reports: int, **kernel_kw: Any
) -> tuple[Kernel, Any, int, int, int]:
    """Run ``plan`` on a 2-worker LocalCluster, SIGKILLing the worker of its job once that has
    reported ``min_reports`` times: (kernel, result, kills, executions of the job, job
    directories left in the workers' temporary folder)."""
    from sgr_kernel.dispatch.config import load_dispatch_settings
    from sgr_kernel.dispatch.dask import DaskDispatcher

    workers_tmp = tmp / "workers-tmp"  # the worker processes inherit it
    workers_tmp.mkdir()
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(workers_tmp)
    try:
        d = DaskDispatcher(
            settings=load_dispatch_settings(env={}, allowed_failures=3, local_workers=2)
        )
        client = d.connect()
    finally:
        if saved is None:
            os.environ.pop("TMPDIR")
        else:
            os.environ["TMPDIR"] = saved
    box: dict[str, Any] = {}

    async def go() -> tuple[Kernel, Any]:
        k = Kernel(KernelConfig(home=tmp / "home"), dispatcher=d, **kernel_kw)
        try:
            res = await k.run(plan=plan)
            box["executions"] = executions_seen(
                client, _remote_key(k.store.read(res.run_id).records)
            )
            return k, res
        finally:
            await d.close()

    with WorkerKiller(progressing(client, min_reports=min_reports)) as killer:
        k, res = asyncio.run(go())
    leftovers = len(list(workers_tmp.glob("sgr-job-*")))
    return k, res, len(killer.killed), box["executions"], leftovers


def _remote_key(records: list[Record]) -> str:
    [key] = {
        str(r.data["key"])
        for r in records
        if r.type is RecordType.INTENT and r.data.get("kind") == "remote"
    }
    return key


def _artifact_check(home: Path, run_id: str, refs: list[dict[str, Any]]) -> tuple[int, int]:
    """(files in the run's artifact store, problems: a file not named by its content's hash,
    a file no output refers to, a reference with no file, a name referred to twice)."""
    folder = home / "runs" / run_id / "artifacts"
    files = sorted(p for p in folder.iterdir()) if folder.is_dir() else []
    problems = sum(1 for p in files if hashlib.sha256(p.read_bytes()).hexdigest() != p.name)
    shas = {r["sha256"] for r in refs}
    problems += len({p.name for p in files} ^ shas)
    problems += len(refs) - len({r["name"] for r in refs})
    return len(files), problems


# ------------------------------------------------------------------ deep research


SUB = {"reasoning": "tides and the moon", "queries": ["spring tides", "moon gravity tides"]}
ANSWER = {
    "claims": [
        {"text": "Spring tides come at new and full moon.", "cites": [1], "quote": "full moon"}
    ]
}


def _research_inputs(tmp: Path, search_url: str) -> dict[str, Any]:
    """A one-file corpus and a slow web: 3 queries x 3 pages of retrieval."""
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "moon.md").write_text("# Moon\n\nThe moon's gravity raises the tides twice a day.")
    index = tmp / "index.sqlite"
    CorpusIndex(index).add(docs, "notes")
    return {
        "question": "When do spring tides happen?",
        "index_path": str(index),
        "search_url": search_url,
        "web_pages": 3,
        "web_budget_s": 120,
    }


def test_a_research_job_whose_worker_is_killed_reruns_and_commits_once(tmp_path: Path) -> None:
    need_dask()
    llm = ScriptedLLM([SUB, ANSWER])
    with serve_slow(delay_s=0.4) as site:
        inputs = _research_inputs(tmp_path, site.search_url)
        # killed once the retrieval has read two pages (reports: the index, 3 corpus
        # searches, then one per page)
        k, res, kills, executions, leftovers = _run_killing_its_worker(
            tmp_path,
            one_step("deep_research", inputs, step="r"),
            6,
            skills={"deep_research": DeepResearchSkill},
            llm=llm,
        )
    assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
    records = k.store.read(res.run_id).records
    ok, committed = commits(records)
    reruns = executions - 1
    n_art, bad = _artifact_check(tmp_path / "home", res.run_id, [])
    print(
        f"FIGURE research_kill killed={kills} committed={committed['r']} "
        f"duplicate_commits={sum(c - 1 for c in ok.values())} reruns={reruns} "
        f"artifacts={n_art} artifact_problems={bad} worker_leftovers={leftovers} "
        f"pages_served={site.pages_served}"
    )
    assert kills == 1 and reruns >= 1  # the kill really cost an execution
    assert site.pages_served > 9  # 9 pages for the run that finished, more for the killed one
    assert committed == {"r": 1} and list(ok.values()) == [1]
    assert n_art == 0 and bad == 0 and leftovers == 0  # retrieval keeps no files
    out = res.outputs["r"]
    assert out["claims"][0]["text"] == "Spring tides come at new and full moon."
    assert out["sources"][0]["location"].startswith(f"http://127.0.0.1:{site.port}/p")
    assert len(llm.requests) == 2  # the step ran once: only the job was run again


# ------------------------------------------------------------------ video render


def test_a_video_job_whose_worker_is_killed_reruns_and_stores_its_files_once(
    tmp_path: Path,
) -> None:
    need_dask()
    # killed once the render has reported a couple of frame counts
    k, res, kills, executions, leftovers = _run_killing_its_worker(
        tmp_path,
        one_step("video_render", {"storyboard": STORYBOARD}, step="v"),
        2,
        skills=dict(SKILLS),
    )
    assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
    out = res.outputs["v"]
    ok, committed = commits(k.store.read(res.run_id).records)
    reruns = executions - 1
    n_art, bad = _artifact_check(tmp_path / "home", res.run_id, out["artifacts"])
    print(
        f"FIGURE video_kill killed={kills} committed={committed['v']} "
        f"duplicate_commits={sum(c - 1 for c in ok.values())} reruns={reruns} "
        f"artifacts={n_art} artifact_problems={bad} worker_leftovers={leftovers} "
        f"frames={out['frames']}"
    )
    assert kills == 1 and reruns >= 1
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
        key = _remote_key(records)
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
        n_art, bad = _artifact_check(home, run_id, out["artifacts"])
        print(
            f"FIGURE video_kernel_kill executions={executions} committed={committed['v']} "
            f"duplicate_commits={sum(c - 1 for c in ok.values())} artifacts={n_art} "
            f"artifact_problems={bad}"
        )
        assert json.loads(resumed.stdout)["status"] == "COMPLETED"
        assert executions == 1  # re-attached by key: the render ran once in all
        assert committed == {"v": 1} and list(ok.values()) == [1]
        assert out["frames"] == FRAMES and n_art == 2 and bad == 0


def test_a_killed_kernel_resumes_research_reattaching_and_asking_the_model_only_what_is_left(
    tmp_path: Path,
) -> None:
    """``sgr run`` dies mid-retrieval. ``sgr resume`` serves the logged sub-query call from the
    trace (its model script holds only the answer), re-attaches to the retrieval job and
    continues: the job runs once, the step commits once."""
    with cpu_cluster(tmp_path) as cluster, serve_slow(delay_s=0.4) as site:
        step = {"id": "r", "skill": "deep_research", "capabilities": ["remote"]}
        step["inputs"] = _research_inputs(tmp_path, site.search_url)
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({"name": "research", "steps": [step]}))
        scripts = {}
        for name, replies in (("run", [SUB, ANSWER]), ("resume", [ANSWER])):
            scripts[name] = tmp_path / f"{name}.jsonl"
            scripts[name].write_text("".join(json.dumps(r) + "\n" for r in replies))
        home = tmp_path / "home"
        env = {**cluster.env, "SGR_HOME": str(home)}
        run_env = {**env, "SGR_PROVIDER": f"scripted:{scripts['run']}"}
        run_id = sgr_run_killed(plan, run_env, _pages_logged, "a page read")
        resumed = subprocess.run(  # noqa: PLW1510 (checked below)
            [*SGR, "resume", run_id, "--json"],
            env={**env, "SGR_PROVIDER": f"scripted:{scripts['resume']}"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        records = FileTraceStore(home).read(run_id).records
        c = cluster.client()
        try:
            executions = executions_seen(c, _remote_key(records))
        finally:
            c.close()
    ok, committed = commits(records)
    llm_results = [  # a call served to the resumed attempt from the log is marked carried
        r.data
        for r in records
        if r.type is RecordType.RESULT and r.data.get("kind") == "llm" and not r.data.get("carried")
    ]
    print(
        f"FIGURE research_kernel_kill executions={executions} committed={committed['r']} "
        f"duplicate_commits={sum(c - 1 for c in ok.values())} "
        f"live_llm_calls={len(llm_results)} pages_served={site.pages_served}"
    )
    assert json.loads(resumed.stdout)["status"] == "COMPLETED"
    assert executions == 1 and site.pages_served == 9  # re-attached: retrieved once in all
    assert committed == {"r": 1} and list(ok.values()) == [1]
    assert len(llm_results) == 2  # sub-queries (before the kill) and the answer (after)


def _pages_logged(run: Path) -> bool:
    """The retrieval job's own progress ("read URL") has reached the run's log."""
    try:
        return '"read http' in (run / "wal.jsonl").read_text()
    except FileNotFoundError:
        return False
