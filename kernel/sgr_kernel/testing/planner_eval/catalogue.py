"""The skills offered to the planner in the evaluation, written out because the kernel may not
import ``sgr_skills`` (the stable built-in skills of docs/architecture.md, and the heavy ones)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sgr_kernel.testing.planner_eval.base import _cued, _entry

__all__ = ["EVAL_CATALOGUE", "HEAVY_CATALOGUE", "catalogue_names"]

EVAL_CATALOGUE: tuple[dict[str, Any], ...] = (
    _entry(
        "answer",
        "Answer a question or write text (a summary, a poem, an explanation) with the LLM.",
        {"question": "What to answer or write.", "context": "Optional material to use."},
        ["question"],
        ["text"],
    ),
    {
        **_entry(
            "format",
            "Fill a text template with earlier outputs; no LLM.",
            {"template": "Text with ${sN.output.FIELD} placeholders."},
            ["template"],
            ["text"],
        ),
        "needs_reference": True,
    },
    _entry(
        "python",
        "Run the given Python code in the sandbox and capture what it prints.",
        {"code": "Python source code to run."},
        ["code"],
        ["artifacts", "stdout", "value"],
    ),
    _entry(
        "code_interpreter",
        "Let the LLM write Python for a data or computing task, then run it in the sandbox.",
        {"task": "What the code must do, in words."},
        ["task"],
        ["artifacts", "code", "stdout", "value"],
    ),
    {
        "name": "backtest_sweep",
        "description": "Backtest a trading strategy (ma_crossover, momentum, mean_reversion) over "
        "a grid of its parameters on OHLCV prices (a CSV/Parquet file or synthetic), with costs "
        "and optional walk-forward, on remote workers; ranked table, heat map, equity curves.",
        "inputs": {
            "type": "object",
            "properties": {
                "strategy": {
                    "type": "string",
                    "enum": ["ma_crossover", "momentum", "mean_reversion"],
                    "description": "The strategy to sweep.",
                },
                "data": {
                    "type": "object",
                    "description": '{"kind": "synthetic", "assets", "days", "seed"} or '
                    '{"kind": "file", "path": "prices.csv"}.',
                },
                "walk_forward": {"type": "integer", "description": "Walk-forward folds (0: off)."},
            },
            "required": ["strategy"],
        },
        "outputs": ["artifacts", "best", "table", "walk_forward"],
        **_cued("backtest_sweep", ["best", "cells", "jobs", "strategy", "sweep_id"]),
    },
    {
        "name": "video_render",
        "description": "Render a short video (H.264 MP4) from a storyboard of scenes: title, "
        "narration, a layout (title, text, bullets, bar or line chart of given numbers).",
        "inputs": {
            "type": "object",
            "properties": {
                "storyboard": {
                    "type": "object",
                    "description": "{title, scenes: [{title, narration, layout, text|bullets|"
                    "data: {labels, series}, duration_s}]}.",
                }
            },
            "required": ["storyboard"],
        },
        "outputs": ["artifacts", "duration_s", "frames"],
        **_cued("video_render", ["duration_s", "frames"]),
    },
)


# Heavy remote skills (skills/sgr_skills/research, skills/sgr_skills/finetune): their own
# catalogue and tasks, so the figures of the tasks above stay comparable.
HEAVY_CATALOGUE: tuple[dict[str, Any], ...] = (
    *EVAL_CATALOGUE,
    _entry(
        "deep_research",
        "Research a question in the user's indexed document corpora (and the web when a search "
        "endpoint is given) and write an answer whose every claim cites its sources [n].",
        {
            "question": "The question to research.",
            "corpora": "Names of indexed corpora to search; all when omitted.",
            "search_url": "A web search endpoint with {q}; the web is used only when set.",
        },
        ["question"],
        ["answer", "claims", "rejected", "sources", "sub_queries", "web"],
    )
    | _cued("deep_research", ["answer"]),
    _entry(
        "lora_finetune",
        "Fine-tune a small language model with a LoRA adapter on a JSONL dataset of "
        "prompt/response rows, on a Dask worker; returns the adapter and eval losses.",
        {
            "data": "A JSONL file of {prompt, response} rows.",
            "steps": "Optimiser steps.",
            "samples": "Prompts answered before and after training.",
        },
        [],
        ["adapter", "eval_loss_after", "eval_loss_before", "samples", "train_losses"],
    )
    | _cued("lora_finetune", ["eval_loss_after", "eval_loss_before"]),
)


def catalogue_names(catalogue: Sequence[Mapping[str, Any]] = EVAL_CATALOGUE) -> list[str]:
    """The skill names of a catalogue."""
    return [str(e["name"]) for e in catalogue]
