"""``deep_research`` survives the death of what runs it, on real Dask.

- The worker running the retrieval job is SIGKILLed once the job has reported progress (after
  reading web pages from a slow site on loopback, or while it updates the corpus index): Dask
  runs it again on the other worker, the step commits once, its model calls are not repeated,
  the index stays whole, the run COMPLETES.
- The kernel (an ``sgr run`` process) is SIGKILLed mid-retrieval: ``sgr resume`` re-attaches to
  the job by its key and asks the model only for what is left.

How many times a job began is read from its progress history on the scheduler.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dask_procs import SGR, cpu_cluster, executions_seen, need_dask, sgr_run_killed
from fixture_site import serve_slow
from heavy_helpers import one_step
from kill_helpers import artifact_check, remote_key, run_killing_its_worker
from remote_helpers import commits

from sgr_kernel.models.status import RunStatus
from sgr_kernel.testing.scripted import ScriptedLLM
from sgr_kernel.trace.base import RecordType
from sgr_kernel.trace.wal import FileTraceStore
from sgr_skills.research import CorpusIndex, DeepResearchSkill

pytestmark = [pytest.mark.dask, pytest.mark.slow]


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
        k, res, kills, executions, leftovers = run_killing_its_worker(
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
    n_art, bad = artifact_check(tmp_path / "home", res.run_id, [])
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


def test_a_worker_killed_while_updating_the_corpus_index_leaves_it_whole(tmp_path: Path) -> None:
    """The retrieval job first brings the index up to date with its folders (one SQLite
    transaction per corpus). Killed in the middle of that, the write is rolled back; the re-run
    indexes again, and the index is whole: every file in it once, SQLite's check clean."""
    need_dask()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "moon.md").write_text("# Moon\n\nSpring tides come at new and full moon.")
    index = tmp_path / "index.sqlite"
    CorpusIndex(index).add(docs, "notes")
    filler = " ".join(f"lorem{i} ipsum dolor sit amet" for i in range(60))
    n = 15_000  # seconds of indexing for the job, so the kill lands inside it
    for i in range(n):
        (docs / f"d{i:05d}.md").write_text(f"# Note {i}\n\nmarker{i} {filler}")
    inputs = {"question": "When do spring tides happen?", "index_path": str(index), "k": 2}
    k, res, kills, executions, leftovers = run_killing_its_worker(
        tmp_path,
        one_step("deep_research", inputs, step="r"),
        1,  # the job's first report: "updating the corpus index"
        skills={"deep_research": DeepResearchSkill},
        llm=ScriptedLLM([SUB, ANSWER]),
    )
    assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
    ok, committed = commits(k.store.read(res.run_id).records)
    con = sqlite3.connect(index)
    try:
        check = con.execute("PRAGMA integrity_check").fetchone()[0]
        docs_in, distinct = con.execute(
            "SELECT count(*), count(DISTINCT path) FROM docs"
        ).fetchone()
    finally:
        con.close()
    last = CorpusIndex(index).search(f"marker{n - 1}", 1)
    print(
        f"FIGURE research_index_kill killed={kills} reruns={executions - 1} "
        f"committed={committed['r']} integrity={check} docs={docs_in} duplicate_docs="
        f"{docs_in - distinct}"
    )
    assert kills == 1 and executions >= 2 and leftovers == 0
    assert committed == {"r": 1} and list(ok.values()) == [1]
    assert check == "ok" and docs_in == distinct == n + 1
    assert last and Path(last[0].location).name == f"d{n - 1:05d}.md"
    assert res.outputs["r"]["sources"][0]["location"].endswith("moon.md")


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
            executions = executions_seen(c, remote_key(records))
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
