"""``sgr corpus add/list`` and a ``deep_research`` plan run by ``sgr run`` on a real Dask
LocalCluster (the embedded one), with a scripted model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/skills: dev_entry_points
from dev_entry_points import pythonpath_with_entry_points


def _sgr(
    tmp: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {
        **os.environ,
        "SGR_HOME": str(tmp / "home"),
        "PYTHONPATH": pythonpath_with_entry_points(tmp, os.environ.get("PYTHONPATH", "")),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "sgr_kernel.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _docs(tmp: Path) -> Path:
    root = tmp / "notes"
    root.mkdir()
    (root / "tides.md").write_text("# Tides\n\nSpring tides happen at new and full moon.")
    (root / "bread.txt").write_text("Bread\n\nKnead the dough, then bake it.")
    return root


def test_corpus_add_list_and_clear_errors(tmp_path: Path) -> None:
    root = _docs(tmp_path)
    r = _sgr(tmp_path, "corpus", "add", str(root))
    assert r.returncode == 0, r.stderr
    assert (
        r.stdout.strip()
        == "corpus notes: 2 added, 0 updated, 0 unchanged, 0 removed, 2 new passages"
    )
    r = _sgr(tmp_path, "corpus", "add", str(root))
    assert "0 added, 0 updated, 2 unchanged" in r.stdout
    r = _sgr(tmp_path, "corpus", "list", "--json")
    [info] = json.loads(r.stdout)
    assert (info["name"], info["documents"], info["chunks"]) == ("notes", 2, 2)
    bad = _sgr(tmp_path, "corpus", "add", str(tmp_path / "missing"))
    assert bad.returncode == 2 and "is not a folder" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr
    clash = _sgr(tmp_path, "corpus", "add", str(tmp_path), "--name", "notes")
    assert clash.returncode == 2 and "already" in clash.stderr + clash.stdout
    (root / "scan.pdf").write_bytes(b"%PDF-1.4 no pages")
    r = _sgr(tmp_path, "corpus", "add", str(root))
    assert r.returncode == 0, r.stderr
    first, *rest = r.stdout.splitlines()
    assert first.endswith(", 1 skipped"), first
    [line] = rest
    assert line.startswith(f"  skipped {root / 'scan.pdf'}: not a readable PDF"), line


def test_python_docs_corpus_answers_python_questions(tmp_path: Path) -> None:
    if not Path("/usr/share/doc/python3.11/html").is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and python3.11-doc is missing: scripts/install-python-docs.sh")
        pytest.skip("python3.11-doc is not installed (scripts/install-python-docs.sh)")
    r = _sgr(tmp_path, "corpus", "add", "--python-docs")
    assert r.returncode == 0, r.stderr
    from sgr_skills.research import CorpusIndex

    index = CorpusIndex(tmp_path / "home" / "corpus" / "index.sqlite")
    [info] = index.corpora()
    assert info.name == "python-docs" and info.documents > 400 and info.chunks > 5000
    hits = index.search("asyncio.gather run awaitables concurrently", k=3)
    assert any("asyncio" in h.location for h in hits), [h.location for h in hits]


@pytest.mark.dask
def test_sgr_run_of_a_research_plan_on_dask(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    root = _docs(tmp_path)
    assert _sgr(tmp_path, "corpus", "add", str(root)).returncode == 0
    replies = tmp_path / "replies.jsonl"
    sub = {"reasoning": "tides", "queries": ["spring tides moon"]}
    ans = {
        "claims": [
            {
                "text": "Spring tides come at new and full moon.",
                "cites": [1],
                "quote": "new and full moon",
            }
        ]
    }
    replies.write_text(json.dumps(sub) + "\n" + json.dumps(ans) + "\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "name: research\nsteps:\n  - id: r\n    skill: deep_research\n"
        "    capabilities: [remote]\n    inputs:\n      question: When are spring tides?\n"
        "      corpora: [notes]\n"
    )
    env = {"SGR_PROVIDER": f"scripted:{replies}", "SGR_DISPATCHER": "dask"}
    r = _sgr(tmp_path, "run", str(plan), "--json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "COMPLETED"
    res = out["outputs"]["r"]
    assert res["answer"] == "Spring tides come at new and full moon. [1]"
    assert res["sources"][0]["location"].endswith("tides.md")
    rep = _sgr(tmp_path, "replay", out["run_id"], "--json", env=env)
    assert rep.returncode == 0, rep.stdout + rep.stderr
