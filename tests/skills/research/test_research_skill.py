"""``deep_research`` through a real kernel (inline dispatcher, scripted model): cited answers,
verified citations, the web backend with a prompt-injection page, bad inputs refused early."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fixture_site import serve

from sgr_kernel.dispatch.inline import InlineDispatcher
from sgr_kernel.engine.kernel import Kernel, KernelConfig
from sgr_kernel.errors import PlanValidationError
from sgr_kernel.models.plan import parse_plan
from sgr_kernel.models.status import RunStatus
from sgr_kernel.testing.scripted import ScriptedLLM
from sgr_kernel.trace.base import RecordType
from sgr_skills.research import CorpusIndex, DeepResearchSkill

DOCS = {
    "loop.md": "# Event loop\n\nThe event loop runs coroutines and callbacks in one thread.",
    "tasks.md": "# Tasks\n\nasyncio.create_task schedules a coroutine to run concurrently.",
    "bread.md": "# Bread\n\nKnead the dough and bake it at 220 degrees.",
}


def _index(tmp: Path) -> str:
    root = tmp / "docs"
    root.mkdir()
    for n, t in DOCS.items():
        (root / n).write_text(t)
    path = tmp / "idx.sqlite"
    CorpusIndex(path).add(root, "py")
    return str(path)


def _plan(inputs: dict[str, Any]) -> Any:
    step = {"id": "r", "skill": "deep_research", "capabilities": ["remote"], "inputs": inputs}
    return parse_plan(json.dumps({"name": "research", "steps": [step]}))


def _run(tmp: Path, inputs: dict[str, Any], replies: list[Any]) -> tuple[Any, Any, ScriptedLLM]:
    llm = ScriptedLLM(replies)
    k = Kernel(
        KernelConfig(home=tmp / "home"),
        skills={"deep_research": DeepResearchSkill},
        llm=llm,
        dispatcher=InlineDispatcher(),
    )
    result = asyncio.run(k.run(plan=_plan(inputs)))
    return k, result, llm


SUBQ = {"reasoning": "find how coroutines run", "queries": ["event loop coroutines", "create_task"]}


def test_a_cited_answer_from_a_corpus(tmp_path: Path) -> None:
    idx = _index(tmp_path)
    answer = {
        "claims": [
            {"text": "The event loop runs coroutines.", "cites": [1], "quote": "runs coroutines"},
            {"text": "create_task schedules one.", "cites": [2], "quote": "schedules a coroutine"},
            {"text": "Made up fact.", "cites": [9], "quote": ""},
        ]
    }
    k, result, llm = _run(
        tmp_path, {"question": "How do coroutines run?", "index_path": idx}, [SUBQ, answer]
    )
    assert result.status is RunStatus.COMPLETED, k.show(result.run_id)
    out = result.outputs["r"]
    assert out["answer"] == "The event loop runs coroutines. [1] create_task schedules one. [2]"
    assert [Path(s["location"]).name for s in out["sources"]] == ["loop.md", "tasks.md"]
    assert "runs coroutines" in out["sources"][0]["passage"]
    assert out["rejected"] == ["'Made up fact.': cites [9], which is not a source of this answer"]
    assert out["sub_queries"][-1] == "How do coroutines run?"
    prompt = llm.requests[1].messages[-1].content
    assert "<sources>" in prompt and "bread" not in prompt.lower()  # only what was retrieved
    # strict replay: no model call, no job submitted
    report = asyncio.run(k.replay(result.run_id))
    assert report.ok and report.live_calls == 0


def test_an_answer_citing_nothing_real_fails_the_step(tmp_path: Path) -> None:
    idx = _index(tmp_path)
    bad = {"claims": [{"text": "Bread is made of rocks.", "cites": [1], "quote": "rocks"}]}
    k, result, _ = _run(tmp_path, {"question": "What is bread?", "index_path": idx}, [SUBQ, bad])
    assert result.status is RunStatus.FAILED
    [step] = [s for s in k.show(result.run_id).steps if s.id == "r"]
    assert "cites nothing real" in (step.error or "") and "not in source [1]" in (step.error or "")


@pytest.mark.parametrize(
    ("inputs", "why"),
    [
        ({"question": "ok?", "search_url": "ftp://x/{q}"}, "search_url must be"),
        ({"question": "ok?", "search_url": "http://x/search"}, "containing {q}"),
        ({"question": "ok?", "corpora": ["../etc"]}, "is not a corpus name"),
    ],
)
def test_bad_inputs_are_refused_before_any_job(
    tmp_path: Path, inputs: dict[str, Any], why: str
) -> None:
    d = InlineDispatcher()
    k = Kernel(
        KernelConfig(home=tmp_path),
        skills={"deep_research": DeepResearchSkill},
        llm=ScriptedLLM([]),
        dispatcher=d,
    )
    result = asyncio.run(k.run(plan=_plan(inputs)))
    assert result.status is RunStatus.FAILED
    [step] = [s for s in k.show(result.run_id).steps if s.id == "r"]
    assert (step.error or "").startswith("StepContractError") and why in (step.error or "")
    assert d.submitted == 0 and step.attempts == 1  # never retried, nothing submitted


def test_a_literal_out_of_bounds_input_is_a_planning_error(tmp_path: Path) -> None:
    d = InlineDispatcher()
    k = Kernel(
        KernelConfig(home=tmp_path),
        skills={"deep_research": DeepResearchSkill},
        llm=ScriptedLLM([]),
        dispatcher=d,
    )
    with pytest.raises(PlanValidationError, match="greater than or equal to 1"):
        asyncio.run(k.run(plan=_plan({"question": "ok?", "k": 0})))
    assert d.submitted == 0 and k.store.list_runs() == []  # refused before anything was written


def test_an_unknown_corpus_is_named_and_not_retried(tmp_path: Path) -> None:
    idx = _index(tmp_path)
    inputs = {"question": "What is bread?", "index_path": idx, "corpora": ["nope"]}
    k, result, _ = _run(tmp_path, inputs, [SUBQ])
    assert result.status is RunStatus.FAILED
    [step] = [s for s in k.show(result.run_id).steps if s.id == "r"]
    assert "no corpus named nope; indexed: py (sgr corpus add DIR)" in (step.error or "")
    assert step.attempts == 1


def test_an_unknown_input_is_refused_at_plan_validation(tmp_path: Path) -> None:
    d = InlineDispatcher()
    k = Kernel(
        KernelConfig(home=tmp_path), skills={"deep_research": DeepResearchSkill}, dispatcher=d
    )
    with pytest.raises(PlanValidationError, match="has no input 'surprise'"):
        asyncio.run(k.run(plan=_plan({"question": "ok?", "surprise": 1})))
    assert d.submitted == 0


def test_web_pages_stay_data_even_when_they_carry_instructions(tmp_path: Path) -> None:
    answer = {
        "claims": [
            {
                "text": "Spring tides come at new and full moon.",
                "cites": [1],
                "quote": "new and full moon",
            }
        ]
    }
    with serve() as site:
        inputs = {
            "question": "When are spring tides?",
            "corpora": [],
            "search_url": site.search_url,
            "k": 2,
            "web_budget_s": 20,
            "web_pages": 10,
            "index_path": str(tmp_path / "none.sqlite"),
        }
        sub = {"reasoning": "tides", "queries": ["spring tides moon"]}
        k, result, llm = _run(tmp_path, inputs, [sub, answer])
    assert result.status is RunStatus.COMPLETED, k.show(result.run_id)
    out = result.outputs["r"]
    assert out["sources"][0]["location"].endswith(("/good.html", "/good2.html"))
    web = out["web"]
    assert any(u.endswith("/injection.html") for u in web["fetched"])
    assert any(u.endswith("/huge.html") for u in web["refused"])
    # the injection reached the model only inside the sources block, and nothing acted on it
    prompt = llm.requests[1].messages[-1].content
    if "IMPORTANT SYSTEM NOTICE" in prompt:
        assert prompt.index("IMPORTANT SYSTEM NOTICE") < prompt.index("</sources>")
    assert len(llm.requests) == 2  # no extra model call, no tool call
    records = k.store.read(result.run_id).records
    kinds = {
        r.data.get("kind") for r in records if r.type in (RecordType.INTENT, RecordType.RESULT)
    }
    assert kinds <= {"llm", "remote"}  # no sandbox, no approval, no http from the kernel
    assert not any(r.type is RecordType.APPROVAL for r in records)
