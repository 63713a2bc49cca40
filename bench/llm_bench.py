"""LLM layer benchmarks, each against a baseline measured in the same run.

1. Provider overhead: ``OpenAICompatLLM.complete`` against a raw ``openai`` SDK call with the
   same parameters to the same loopback server (``sgr_kernel.testing.openai_server``), calls
   interleaved in rounds so drift hits both alike. Target: median ratio ≤ 1.05.
2. Local model (when ``llama_cpp`` is installed): completion tokens/s under the planner's
   grammar against plain (unconstrained) decoding of the same prompt, and ``plan_task``
   latency p50 over the evaluation tasks.

Writes ``bench/results/llm.json``. Run: ``.venv/bin/python bench/llm_bench.py [--calls N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import openai

from sgr_kernel.errors import SgrError
from sgr_kernel.llm.base import LLMRequest, Message
from sgr_kernel.llm.config import LLMSettings
from sgr_kernel.llm.openai_compat import OpenAICompatLLM
from sgr_kernel.llm.planner import (
    check_against_catalogue,
    plan_task,
    planner_messages,
    planner_output_model,
)
from sgr_kernel.llm.schema_guided import json_schema_for
from sgr_kernel.testing.openai_server import OpenAITestServer, Reply
from sgr_kernel.testing.planner_eval import EVAL_CATALOGUE, EVAL_TASKS

OUT = Path(__file__).parent / "results" / "llm.json"
SCHEMA = json_schema_for(planner_output_model(EVAL_CATALOGUE))
ANSWER = {"steps": [{"skill": "answer", "inputs": {"question": "hi", "context": None}}]}


async def provider_overhead(calls: int, rounds: int = 5) -> dict[str, Any]:
    msgs = (Message(role="system", content="You plan."), Message(role="user", content="Task: x"))
    request = LLMRequest(messages=msgs, json_schema=SCHEMA, schema_name="PlannerOutput", seed=0)
    with OpenAITestServer(default=Reply.json(ANSWER), record=False) as srv:
        ours = OpenAICompatLLM(
            LLMSettings(provider="openai_compat", base_url=srv.base_url, model="test-model")
        )
        raw = openai.AsyncOpenAI(api_key="sk-no-key", base_url=srv.base_url, max_retries=0)
        raw_params = {
            "model": "test-model",
            "messages": [{"role": m.role, "content": m.content} for m in msgs],
            "temperature": 0.0,
            "seed": 0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "PlannerOutput", "schema": SCHEMA, "strict": True},
            },
        }

        async def one_ours() -> float:
            t0 = time.perf_counter()
            await ours.complete(request)
            return time.perf_counter() - t0

        async def one_raw() -> float:
            t0 = time.perf_counter()
            resp = await raw.chat.completions.create(**raw_params)
            _ = (resp.choices[0].message.content, resp.usage)
            return time.perf_counter() - t0

        for _ in range(20):  # warm both connection pools
            await one_ours()
            await one_raw()
        t_ours: list[float] = []
        t_raw: list[float] = []
        per_round = max(1, calls // rounds)
        for r in range(rounds):
            first, second = (one_ours, one_raw) if r % 2 == 0 else (one_raw, one_ours)
            for _ in range(per_round):
                a, b = await first(), await second()
                (t_ours if first is one_ours else t_raw).append(a)
                (t_raw if first is one_ours else t_ours).append(b)
        await ours.aclose()
        await raw.close()
    med_ours, med_raw = statistics.median(t_ours), statistics.median(t_raw)
    return {
        "calls_each": len(t_ours),
        "ours_median_ms": round(med_ours * 1000, 3),
        "raw_sdk_median_ms": round(med_raw * 1000, 3),
        "overhead_ratio": round(med_ours / med_raw, 4),
        "target_ratio": 1.05,
    }


async def local_model(tasks: int) -> dict[str, Any]:
    from sgr_kernel.llm.local import LocalLLM

    llm = LocalLLM()
    picked = EVAL_TASKS[:tasks]
    # Warm-up: load the weights and evaluate the shared prompt prefix once.
    prefix = tuple(planner_messages("x", EVAL_CATALOGUE))[:-1]
    await llm.complete(LLMRequest(messages=prefix, max_tokens=1))
    grammar_tok = grammar_s = plain_tok = plain_s = 0.0
    for t in picked:
        msgs = tuple(planner_messages(t.task, EVAL_CATALOGUE))
        g = await llm.complete(LLMRequest(messages=msgs, json_schema=SCHEMA))
        p = await llm.complete(
            LLMRequest(messages=msgs, max_tokens=max(8, g.usage.completion_tokens))
        )
        grammar_tok += g.usage.completion_tokens
        grammar_s += g.latency_s
        plain_tok += p.usage.completion_tokens
        plain_s += p.latency_s
    latencies: list[float] = []
    failed = 0
    for t in picked:
        t0 = time.perf_counter()
        try:
            await plan_task(
                llm.complete,
                t.task,
                EVAL_CATALOGUE,
                validate=lambda plan: check_against_catalogue(plan, EVAL_CATALOGUE),
                max_replans=0,
            )
        except SgrError:
            failed += 1  # an invalid plan still took this long to produce
        latencies.append(time.perf_counter() - t0)
    return {
        "model": llm.model,
        "n_threads": llm.n_threads,
        "tasks": len(picked),
        "grammar_tok_per_s": round(grammar_tok / grammar_s, 2),
        "plain_tok_per_s": round(plain_tok / plain_s, 2),
        "grammar_vs_plain": round((grammar_tok / grammar_s) / (plain_tok / plain_s), 3),
        "plan_latency_p50_s": round(statistics.median(latencies), 3),
        "plan_latency_max_s": round(max(latencies), 3),
        "plans_invalid_without_replan": failed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=500, help="provider calls per side")
    ap.add_argument("--tasks", type=int, default=10, help="evaluation tasks for the local model")
    ap.add_argument("--skip-local", action="store_true", help="only the provider overhead")
    args = ap.parse_args()
    metrics: dict[str, Any] = {"provider": asyncio.run(provider_overhead(args.calls))}
    o = metrics["provider"]
    print(
        f"FIGURE llm_provider_overhead ratio={o['overhead_ratio']} "
        f"ours_ms={o['ours_median_ms']} raw_ms={o['raw_sdk_median_ms']} calls={o['calls_each']}"
    )
    if importlib.util.find_spec("llama_cpp") is not None and not args.skip_local:
        local = asyncio.run(local_model(args.tasks))
        metrics["local"] = local
        print(
            f"FIGURE llm_local grammar_tok_s={local['grammar_tok_per_s']} "
            f"plain_tok_s={local['plain_tok_per_s']} plan_p50_s={local['plan_latency_p50_s']}"
        )
    else:
        metrics["local"] = None
        print("FIGURE llm_local skipped=1")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "name": "llm",
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count()},
        "metrics": metrics,
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
