"""Planner evaluation: schema-valid %, executable %, correct %, latency over the eval tasks.

Each task of ``sgr_kernel.testing.planner_eval.EVAL_TASKS`` is planned with ``plan_task``
(bounded replanning, validation against the catalogue) and graded against what a correct
plan must contain. The baseline measured in the same run is the same planner with
replanning off (``max_replans=0``), which shows what the feedback loop buys.

- schema-valid: every model answer parsed and validated as the planner's output model;
- executable: ``plan_task`` returned a plan that passed validation;
- correct: executable and ``grade`` found nothing missing (Python in a plan must compile).

Figures are printed for all tasks and for the original 22 (comparable with earlier runs).
``--e2e`` also runs every task with an expected answer through a real kernel (the same
model, the real skills, the Docker sandbox) and judges the run's final answer.

``--heavy`` plans the tasks that need a heavy skill (two or more per skill) and the near
misses that must not use one, against the *real* skills' catalogue (their cues and input
schemas) and the engine's own plan validation (field constraints), and reports the heavy
skill choice rate and the false positives.

Run: ``.venv/bin/python bench/eval_planner.py`` (the embedded model, several minutes on 2
cores) or ``--endpoint`` to use the configured endpoint (``SGR_BASE_URL``, ``SGR_MODEL``,
``SGR_API_KEY``). Writes ``bench/results/eval_planner_<provider>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from sgr_kernel.errors import SgrError
from sgr_kernel.llm.base import LLMClient, LLMRequest, LLMResponse
from sgr_kernel.llm.config import load_settings, make_client
from sgr_kernel.llm.planner import check_against_catalogue, plan_task, planner_output_model
from sgr_kernel.llm.schema_guided import parse_output
from sgr_kernel.testing.planner_eval import (
    EVAL_CATALOGUE,
    EVAL_TASKS,
    HEAVY_TASKS,
    EvalTask,
    grade,
    judge_answer,
)

RESULTS = Path(__file__).parent / "results"


def real_catalogue() -> tuple[tuple[dict[str, Any], ...], Any]:
    """The built-in skills' own catalogue and the engine's validation (``remote`` granted:
    the evaluation measures the choice of skill, not the run's grants)."""
    from sgr_kernel.graph.dag import validate_plan
    from sgr_kernel.skills.base import DEFAULT_GRANTS
    from sgr_kernel.skills.registry import SkillRegistry

    registry = SkillRegistry.default()
    skills = {name: registry[name] for name in registry}
    grants = DEFAULT_GRANTS | {"remote"}
    catalogue = tuple(skills[n].catalogue_entry() for n in sorted(skills))
    return catalogue, lambda p: validate_plan(p, skills, grants=grants)


async def one(
    client: LLMClient,
    task: EvalTask,
    max_replans: int,
    catalogue: tuple[dict[str, Any], ...] = EVAL_CATALOGUE,
    validate: Any = None,
) -> dict[str, Any]:
    responses: list[LLMResponse] = []

    async def call(request: LLMRequest) -> LLMResponse:
        resp = await client.complete(request)
        responses.append(resp)
        return resp

    t0 = time.perf_counter()
    plan, error, misses = None, None, []
    try:
        plan = await plan_task(
            call,
            task.task,
            catalogue,
            validate=validate or (lambda p: check_against_catalogue(p, catalogue)),
            max_replans=max_replans,
        )
        misses = grade(plan, task)
    except SgrError as e:
        error = f"{type(e).__name__}: {str(e)[:300]}"
    latency = time.perf_counter() - t0
    output_cls = planner_output_model(catalogue, task=task.task)
    valid = [not parse_output(output_cls, r.text)[1] for r in responses]
    return {
        "task": task.task,
        "original": "original" in task.tags,
        "tags": list(task.tags),
        "wanted": sorted(task.skills),
        "schema_valid": all(valid),
        "answers": len(responses),
        "answers_valid": sum(valid),
        "executable": plan is not None,
        "correct": plan is not None and not misses,
        "misses": misses,
        "error": error,
        "latency_s": round(latency, 3),
        "tokens": sum(r.usage.total_tokens for r in responses),
        "plan": [s.model_dump(mode="json", include={"id", "skill", "inputs"}) for s in plan.steps]
        if plan
        else None,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    lat = [r["latency_s"] for r in rows]
    return {
        "tasks": n,
        "schema_valid_pct": round(100 * sum(r["schema_valid"] for r in rows) / n, 1),
        "answers_valid_pct": round(
            100 * sum(r["answers_valid"] for r in rows) / max(1, sum(r["answers"] for r in rows)), 1
        ),
        "executable_pct": round(100 * sum(r["executable"] for r in rows) / n, 1),
        "correct_pct": round(100 * sum(r["correct"] for r in rows) / n, 1),
        "latency_p50_s": round(statistics.median(lat), 3),
        "latency_max_s": round(max(lat), 3),
        "model_calls": sum(r["answers"] for r in rows),
    }


def _final_text(output: Any) -> str:
    if not isinstance(output, dict):
        return str(output)
    parts = [output.get(k) for k in ("text", "stdout", "value", "value_repr")]
    return " ".join(str(p) for p in parts if p not in (None, ""))


async def end_to_end(client: LLMClient, task: EvalTask, home: Path) -> dict[str, Any]:
    """Plan and run ``task`` with the real skills; judge the last step's output."""
    from sgr_kernel.engine.base import RunConfig
    from sgr_kernel.engine.kernel import Kernel, KernelConfig

    kernel = Kernel(KernelConfig(home=home, run=RunConfig(approval_mode="auto")), llm=client)
    t0 = time.perf_counter()
    handle = await kernel.start(task=task.task)
    result = await handle.wait()
    state = handle.state
    final = ""
    if state.plan is not None and state.plan.steps:
        final = _final_text(result.outputs.get(state.plan.steps[-1].id))
    return {
        "task": task.task,
        "status": result.status.value,
        "final": final[:300],
        "right": result.ok and bool(judge_answer(final, task)),
        "latency_s": round(time.perf_counter() - t0, 3),
    }


_HEAVY = {"backtest_sweep", "deep_research", "lora_finetune", "video_render"}


def heavy_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Heavy-skill choice (a heavy task's plan has every heavy skill it needs) and false
    positives (a near-miss task's plan uses a heavy skill)."""
    heavy = [r for r in rows if "heavy" in r["tags"]]
    near = [r for r in rows if "near" in r["tags"]]

    def used(r: dict[str, Any]) -> set[str]:
        return {s["skill"] for s in r["plan"] or []}

    chosen = [r for r in heavy if set(r["wanted"]) & _HEAVY <= used(r)]
    return {
        "heavy_tasks": len(heavy),
        "heavy_chosen": len(chosen),
        "heavy_choice_pct": round(100 * len(chosen) / max(1, len(heavy)), 1),
        "near_tasks": len(near),
        "false_positives": sum(bool(used(r) & _HEAVY) for r in near),
    }


async def evaluate(
    client: LLMClient, max_replans: int, heavy: bool = False
) -> list[dict[str, Any]]:
    validate = None
    if heavy:
        catalogue, validate = real_catalogue()
        tasks = HEAVY_TASKS
    else:
        tasks, catalogue = EVAL_TASKS, EVAL_CATALOGUE
    rows = []
    for task in tasks:
        rows.append(await one(client, task, max_replans, catalogue, validate))
        r = rows[-1]
        plan = [st["skill"] for st in r["plan"] or []]
        print(f"  correct={r['correct']!s:<5} {r['latency_s']:>6}s {plan} {task.task[:60]}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", action="store_true", help="use the configured endpoint")
    ap.add_argument("--replans", type=int, default=2)
    ap.add_argument("--e2e", action="store_true", help="also run and judge final answers")
    ap.add_argument(
        "--heavy", action="store_true", help="the tasks that need a heavy skill, and near misses"
    )
    args = ap.parse_args()
    settings = load_settings() if args.endpoint else load_settings(provider="local")
    client = make_client(settings)
    label = ("local" if settings.provider == "local" else "endpoint") + (
        "_heavy" if args.heavy else ""
    )

    async def both() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        # One event loop for every call: an HTTP client's connections belong to its loop.
        return await evaluate(client, 0, args.heavy), await evaluate(
            client, args.replans, args.heavy
        )

    baseline_rows, rows = asyncio.run(both())
    original = [r for r in rows if r["original"]] or rows  # --heavy: no original tasks
    metrics = {
        "planner": summarise(rows),
        "planner_original_22": summarise(original),
        "baseline_no_replan": summarise(baseline_rows),
    }
    if args.heavy:
        metrics["heavy"] = heavy_figures(rows)
        metrics["heavy_no_replan"] = heavy_figures(baseline_rows)
        h = metrics["heavy"]
        print(
            f"FIGURE eval_heavy provider={label} heavy_tasks={h['heavy_tasks']} "
            f"heavy_chosen={h['heavy_chosen']} choice={h['heavy_choice_pct']}% "
            f"near_tasks={h['near_tasks']} false_positives={h['false_positives']}"
        )
    s, o, b = metrics["planner"], metrics["planner_original_22"], metrics["baseline_no_replan"]
    print(
        f"FIGURE eval_planner provider={label} tasks={s['tasks']} "
        f"schema_valid={s['schema_valid_pct']}% executable={s['executable_pct']}% "
        f"correct={s['correct_pct']}% p50_s={s['latency_p50_s']} "
        f"(original 22: correct={o['correct_pct']}%; no replan: "
        f"executable={b['executable_pct']}% correct={b['correct_pct']}%)"
    )
    e2e: list[dict[str, Any]] = []
    if args.e2e and not args.heavy:
        import tempfile

        async def judged(home: Path) -> None:
            for task in EVAL_TASKS:
                if task.expect:
                    e2e.append(await end_to_end(client, task, home))
                    print(f"  e2e {e2e[-1]['status']:<9} right={e2e[-1]['right']} {task.task[:60]}")

        with tempfile.TemporaryDirectory() as home:
            asyncio.run(judged(Path(home)))
        done = sum(r["status"] == "COMPLETED" for r in e2e)
        right = sum(r["right"] for r in e2e)
        metrics["end_to_end"] = {"tasks": len(e2e), "completed": done, "right": right}
        print(f"FIGURE eval_e2e provider={label} tasks={len(e2e)} completed={done} right={right}")
    out = RESULTS / f"eval_planner_{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    model = getattr(client, "model", settings.model)
    result = {
        "name": f"eval_planner_{label}",
        "model": model,
        "metrics": metrics,
        "tasks": rows,
        "end_to_end": e2e,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
