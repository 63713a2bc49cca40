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
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from dask_procs import ExternalCluster, WorkerKiller, executions_seen, progressing, wait_until
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


def _need_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and Dask is not installed: pip install 'sgr-jupyter[dask]'")
        pytest.skip("Dask is not installed")


def _dispatcher() -> Any:
    from sgr_kernel.dispatch.config import load_dispatch_settings
    from sgr_kernel.dispatch.dask import DaskDispatcher

    return DaskDispatcher(
        settings=load_dispatch_settings(env={}, allowed_failures=3, local_workers=2)
    )


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


class _SlowSite:
    """A search endpoint on loopback whose pages each take ``delay_s`` to arrive: a
    retrieval job that reads the web for a few seconds, reporting after every page."""

    PAGE = (
        "<html><head><title>Tides {n}</title></head><body><p>Spring tides happen at new and "
        "full moon, when the sun and the moon pull together (page {n}).</p></body></html>"
    )

    def __init__(self, delay_s: float) -> None:
        self.pages_served = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def _send(self, body: str, ctype: str) -> None:
                data = body.encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", ctype + "; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the worker asking was killed meanwhile
                    pass

            def do_GET(self) -> None:
                base = f"http://127.0.0.1:{site.port}"
                if self.path == "/robots.txt":
                    self._send("User-agent: *\nAllow: /\n", "text/plain")
                elif self.path.startswith("/search"):
                    q = abs(hash(self.path)) % 10_000  # pages of their own for each query
                    results = [{"url": f"{base}/p{q}-{n}.html", "title": f"p{n}"} for n in range(3)]
                    self._send(json.dumps({"results": results}), "application/json")
                else:
                    time.sleep(delay_s)
                    site.pages_served += 1
                    self._send(site.PAGE.format(n=self.path.strip("/")), "text/html")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.search_url = f"http://127.0.0.1:{self.port}/search?q={{q}}"


@contextmanager
def _slow_site(delay_s: float) -> Iterator[_SlowSite]:
    site = _SlowSite(delay_s)
    t = threading.Thread(target=site.server.serve_forever, daemon=True)
    t.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()


def test_a_research_job_whose_worker_is_killed_reruns_and_commits_once(tmp_path: Path) -> None:
    _need_dask()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "moon.md").write_text("# Moon\n\nThe moon's gravity raises the tides twice a day.")
    index = tmp_path / "index.sqlite"
    CorpusIndex(index).add(docs, "notes")
    sub = {"reasoning": "tides and the moon", "queries": ["spring tides", "moon gravity tides"]}
    answer = {
        "claims": [
            {"text": "Spring tides come at new and full moon.", "cites": [1], "quote": "full moon"}
        ]
    }
    llm = ScriptedLLM([sub, answer])
    d = _dispatcher()
    client = d.connect()
    box: dict[str, Any] = {}
    with _slow_site(delay_s=0.4) as site:
        inputs = {
            "question": "When do spring tides happen?",
            "index_path": str(index),
            "search_url": site.search_url,
            "web_pages": 3,
            "web_budget_s": 120,
        }

        async def go() -> tuple[Kernel, Any]:
            skills = {"deep_research": DeepResearchSkill}
            k = Kernel(KernelConfig(home=tmp_path / "home"), skills=skills, llm=llm, dispatcher=d)
            try:
                res = await k.run(plan=one_step("deep_research", inputs, step="r"))
                key = _remote_key(k.store.read(res.run_id).records)
                box["executions"] = executions_seen(client, key)
                return k, res
            finally:
                await d.close()

        # kill -9 the worker once the retrieval has read two pages (reports: the index, 3
        # corpus searches, then one per page)
        with WorkerKiller(progressing(client, min_reports=6)) as killer:
            k, res = asyncio.run(go())
    assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
    records = k.store.read(res.run_id).records
    ok, committed = commits(records)
    reruns = box["executions"] - 1
    n_art, bad = _artifact_check(tmp_path / "home", res.run_id, [])
    print(
        f"FIGURE research_kill killed={len(killer.killed)} committed={committed['r']} "
        f"duplicate_commits={sum(c - 1 for c in ok.values())} reruns={reruns} "
        f"artifacts={n_art} artifact_problems={bad} pages_served={site.pages_served}"
    )
    assert len(killer.killed) == 1 and reruns >= 1  # the kill really cost an execution
    assert site.pages_served > 9  # 9 pages for the run that finished, more for the killed one
    assert committed == {"r": 1} and list(ok.values()) == [1]
    assert n_art == 0 and bad == 0  # retrieval keeps no files
    out = res.outputs["r"]
    assert out["claims"][0]["text"] == "Spring tides come at new and full moon."
    assert out["sources"][0]["location"].startswith(f"http://127.0.0.1:{site.port}/p")
    assert len(llm.requests) == 2  # the step ran once: only the job was run again


# ------------------------------------------------------------------ video render


def test_a_video_job_whose_worker_is_killed_reruns_and_stores_its_files_once(
    tmp_path: Path,
) -> None:
    _need_dask()
    d = _dispatcher()
    client = d.connect()
    box: dict[str, Any] = {}

    async def go() -> tuple[Kernel, Any]:
        k = Kernel(KernelConfig(home=tmp_path / "home"), skills=dict(SKILLS), dispatcher=d)
        try:
            res = await k.run(plan=one_step("video_render", {"storyboard": STORYBOARD}, step="v"))
            box["executions"] = executions_seen(
                client, _remote_key(k.store.read(res.run_id).records)
            )
            return k, res
        finally:
            await d.close()

    # kill -9 the worker once the render has reported a couple of frame counts
    with WorkerKiller(progressing(client, min_reports=2)) as killer:
        k, res = asyncio.run(go())
    assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
    out = res.outputs["v"]
    ok, committed = commits(k.store.read(res.run_id).records)
    reruns = box["executions"] - 1
    n_art, bad = _artifact_check(tmp_path / "home", res.run_id, out["artifacts"])
    print(
        f"FIGURE video_kill killed={len(killer.killed)} committed={committed['v']} "
        f"duplicate_commits={sum(c - 1 for c in ok.values())} reruns={reruns} "
        f"artifacts={n_art} artifact_problems={bad} frames={out['frames']}"
    )
    assert len(killer.killed) == 1 and reruns >= 1
    assert committed == {"v": 1} and list(ok.values()) == [1]
    assert out["frames"] == FRAMES and out["codec"] == "avc1"
    assert sorted(a["name"] for a in out["artifacts"]) == ["poster.png", "video.mp4"]
    assert n_art == 2 and bad == 0


def _frames_logged(wal: Path) -> bool:
    """A render's own progress ("frame i/n") has reached the run's log."""
    try:
        return '"frame ' in wal.read_text()
    except FileNotFoundError:
        return False


def test_a_killed_kernel_resumes_a_render_by_reattaching_not_rerunning(tmp_path: Path) -> None:
    _need_dask()
    cluster = ExternalCluster(tmp_path)
    try:
        cluster.start_scheduler()
        cluster.start_workers("--nworkers", "2", "--nthreads", "1", "--name", "cpu")
        cluster.wait_workers(2)
        plan = tmp_path / "plan.json"
        step = {"id": "v", "skill": "video_render", "capabilities": ["remote"]}
        step["inputs"] = {"storyboard": STORYBOARD}
        plan.write_text(json.dumps({"name": "video", "steps": [step]}))
        home = tmp_path / "home"
        env = {**cluster.env, "SGR_HOME": str(home)}
        cmd = [sys.executable, "-m", "sgr_kernel.cli"]
        proc = subprocess.Popen(
            [*cmd, "run", str(plan), "--json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            runs = home / "runs"
            run_id = wait_until(
                "the run", lambda: runs.is_dir() and next(runs.iterdir(), None), limit_s=120
            ).name
            wait_until("frames rendered", lambda: _frames_logged(runs / run_id / "wal.jsonl"), 120)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        resumed = subprocess.run(  # noqa: PLW1510 (checked below)
            [*cmd, "resume", run_id, "--json"], env=env, capture_output=True, text=True, timeout=300
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
            [*cmd, "show", run_id, "--json"], env=env, capture_output=True, text=True, timeout=120
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
    finally:
        cluster.close()
