"""The planner evaluation set: small tasks, the skills offered, what a correct plan contains.

Shared by ``bench/eval_planner.py`` (schema-valid %, executable %, correct %, latency) and the
local-model tests (100% schema-valid, identical output on two runs). The catalogue mirrors
the stable built-in skills of docs/architecture.md, written out here because the kernel may not
import ``sgr_skills``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sgr_kernel.models.plan import Plan
from sgr_kernel.models.refs import find_refs

__all__ = [
    "EVAL_CATALOGUE",
    "EVAL_TASKS",
    "HEAVY_CATALOGUE",
    "HEAVY_TASKS",
    "EvalTask",
    "grade",
    "judge_answer",
]


def _entry(
    name: str, description: str, inputs: dict[str, str], required: list[str], outputs: list[str]
) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for key, desc in inputs.items():
        props[key] = {"type": "string", "description": desc, "title": key.title()}
        if key not in required:
            props[key] = {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "default": None,
                "description": desc,
            }
    schema = {"type": "object", "properties": props, "required": required}
    return {"name": name, "description": description, "inputs": schema, "outputs": outputs}


# The cues each heavy skill declares (``Skill.cues``; tests/skills check they are the same).
SKILL_CUES: dict[str, list[str]] = {
    "backtest_sweep": [
        r"\bback-?test",
        r"\bsweep\b.{0,80}\b(strateg|lookback|window|grid|sharpe|crossover)",
    ],
    "video_render": [
        r"\b(make|render|create|produce|generate)\b.{0,60}\b(video|mp4|clip)s?\b",
        r"\bstoryboard",
    ],
    "deep_research": [
        r"\b(my|our|the) [\w.-]+ corp(us|ora)\b",
        r"\b(search|research|look up)\b.{0,40}\b(my|our) (notes|documents|docs|files|papers)",
        r"\bcit(e|ing) (the |its |their )?sources",
    ],
    "lora_finetune": [r"\bfine-?tun(e|ing)\b", r"\blora\b", r"\btrain\b.{0,40}\b(adapter|model)\b"],
}


def _cued(name: str, result_fields: list[str]) -> dict[str, Any]:
    return {"cues": SKILL_CUES[name], "capabilities": ["remote"], "result_fields": result_fields}


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


@dataclass(frozen=True)
class EvalTask:
    """One task and what a correct plan for it must contain.

    Attributes:
        task: The user's request.
        skills: Skills that must each appear in the plan.
        any_of: At least one of these skills must appear (alternatives that are all fine).
        keywords: Words that must appear (case-insensitively) somewhere in the inputs.
        chained: A later step must use an earlier step's output through a reference.
        max_steps: More steps than this is not a correct plan.
        expect: Case-insensitive texts of which one must appear in the run's final answer
            (end-to-end judging); empty: the answer is not checkable by text.
        tags: ``original`` for the first 22 tasks (their figure stays comparable);
            ``heavy`` for tasks that need a heavy skill, ``near`` for tasks that must not
            use one although their words come close.
        avoid: Skills that must not appear (a heavy skill for a question about it).
    """

    task: str
    skills: frozenset[str] = frozenset()
    any_of: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = ()
    chained: bool = False
    max_steps: int = 4
    expect: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default=())
    avoid: frozenset[str] = frozenset()


def _t(
    task: str,
    *,
    skills: Sequence[str] = (),
    any_of: Sequence[str] = (),
    keywords: Sequence[str] = (),
    chained: bool = False,
    max_steps: int = 4,
    expect: Sequence[str] = (),
    tags: Sequence[str] = ("original",),
    avoid: Sequence[str] = (),
) -> EvalTask:
    return EvalTask(
        task,
        frozenset(skills),
        frozenset(any_of),
        tuple(keywords),
        chained,
        max_steps,
        tuple(expect),
        tuple(tags),
        frozenset(avoid),
    )


def _n(task: str, **kw: Any) -> EvalTask:
    """A task added with the stricter evaluation (not among the original 22)."""
    return _t(task, tags=("added",), **kw)


_CODE = ("python", "code_interpreter")

EVAL_TASKS: tuple[EvalTask, ...] = (
    _t(
        "What is the capital of Italy?",
        skills=["answer"],
        keywords=["Italy"],
        max_steps=1,
        expect=["Rome"],
    ),
    _t("Explain what a write-ahead log is in two sentences.", skills=["answer"], keywords=["log"]),
    _t("Write a short poem about the sea.", skills=["answer"], keywords=["sea"], max_steps=2),
    _t("Summarise the plot of Hamlet.", skills=["answer"], keywords=["Hamlet"], max_steps=2),
    _t("Translate 'good morning' into Spanish.", skills=["answer"], keywords=["good morning"]),
    _t("Give three tips for writing clear emails.", skills=["answer"], keywords=["email"]),
    _t("What does HTTP status 404 mean?", skills=["answer"], keywords=["404"], max_steps=1),
    _t("Compute 17 * 23 with Python.", any_of=_CODE, keywords=["17"], max_steps=2, expect=["391"]),
    _t("Print the first 10 Fibonacci numbers using Python.", any_of=_CODE, keywords=["fib"]),
    _t("Use Python to count the vowels in 'schema guided reasoning'.", any_of=_CODE),
    _t(
        "Calculate the mean of 3, 5, 7 and 9 in Python.",
        any_of=_CODE,
        keywords=["3"],
        expect=["6.0", "6"],
    ),
    _t(
        "Sort the list [5, 2, 9, 1] with Python and print it.",
        any_of=_CODE,
        keywords=["5"],
        expect=["[1, 2, 5, 9]"],
    ),
    _t(
        "Check with Python whether 97 is a prime number.",
        any_of=_CODE,
        keywords=["97"],
        expect=["true", "is prime", "is a prime"],
    ),
    _t(
        "Write a haiku about rain and put it under the title 'Rain'.",
        skills=["answer", "format"],
        keywords=["rain"],
        chained=True,
    ),
    _t(
        "Write a limerick about a cat, then format it as a card that starts with 'Dear friend'.",
        skills=["answer", "format"],
        keywords=["cat"],
        chained=True,
    ),
    _t(
        "Compute 2 to the power of 20 in Python, then explain the result.",
        skills=["answer"],
        any_of=_CODE,
        keywords=["20"],
        chained=True,
    ),
    _t(
        "Generate the squares of 1 to 5 in Python and describe the pattern.",
        skills=["answer"],
        any_of=_CODE,
        chained=True,
    ),
    _t(
        "Answer: who wrote 'Pride and Prejudice'? Then format the answer as 'Author: <name>'.",
        skills=["answer", "format"],
        keywords=["Pride"],
        chained=True,
    ),
    _t(
        "Write a one-line slogan for a bakery.", skills=["answer"], keywords=["bakery"], max_steps=2
    ),
    _t("List three uses of a paperclip.", skills=["answer"], keywords=["paperclip"], max_steps=2),
    _t(
        "Use Python to reverse the string 'planner' and then write a sentence using the result.",
        skills=["answer"],
        any_of=_CODE,
        keywords=["planner"],
        chained=True,
    ),
    _t("Format the text 'Hello, world' as a title.", skills=["format"], keywords=["Hello"]),
    # Added with the stricter evaluation: what notebook users ask, not tuned to any planner.
    _n(
        "What is the difference between a list and a tuple in Python?",
        skills=["answer"],
        keywords=["tuple"],
        max_steps=2,
    ),
    _n("Explain what a pandas DataFrame is.", skills=["answer"], keywords=["DataFrame"]),
    _n(
        "Summarise the main causes of the French Revolution in three bullet points.",
        skills=["answer"],
        keywords=["French Revolution"],
    ),
    _n("Suggest a name for a data science blog.", skills=["answer"], keywords=["blog"]),
    _n(
        "What is gradient descent? Answer in one paragraph.",
        skills=["answer"],
        keywords=["gradient"],
    ),
    _n(
        "Write a SQL query that selects all customers from Paris.",
        skills=["answer"],
        keywords=["Paris"],
        max_steps=2,
    ),
    _n(
        "Translate 'thank you very much' into German.",
        skills=["answer"],
        keywords=["thank you"],
        expect=["danke"],
    ),
    _n(
        "How many days are there between 2024-03-03 and 2024-07-09?",
        any_of=_CODE,
        keywords=["2024"],
        expect=["128"],
    ),
    _n("What is 15% of 80?", any_of=_CODE, keywords=["80"], expect=["12"]),
    _n(
        "Generate 1000 random numbers with numpy and print their mean.",
        any_of=_CODE,
        keywords=["1000"],
    ),
    _n("Plot a sine wave from 0 to 2*pi with matplotlib.", any_of=_CODE, keywords=["sine"]),
    _n(
        "Find all prime numbers below 50 using Python.",
        any_of=_CODE,
        keywords=["50"],
        expect=["47"],
    ),
    _n(
        "Convert 100 degrees Fahrenheit to Celsius with Python.",
        any_of=_CODE,
        keywords=["100"],
        expect=["37.7", "37.8"],
    ),
    _n(
        "Create a pandas DataFrame with columns name and age for three people and print it.",
        any_of=_CODE,
        keywords=["age"],
    ),
    _n("Compute the factorial of 12.", any_of=_CODE, keywords=["12"], expect=["479001600"]),
    _n(
        "What is the square root of 2 to 10 decimal places?",
        any_of=_CODE,
        keywords=["2"],
        expect=["1.4142135623", "1.4142135624"],
    ),
    _n(
        "Count the words in 'the quick brown fox jumps over the lazy dog' with Python, "
        "then tell me which word is longest.",
        skills=["answer"],
        any_of=_CODE,
        keywords=["fox"],
        chained=True,
    ),
    _n(
        "Simulate 100 coin flips in Python and describe the result.",
        skills=["answer"],
        any_of=_CODE,
        keywords=["100"],
        chained=True,
    ),
    _n(
        "Compute the average of [12, 15, 9, 20] in Python and explain what it means.",
        skills=["answer"],
        any_of=_CODE,
        keywords=["12"],
        chained=True,
        expect=["14"],
    ),
    _n(
        "Write a motivational quote and format it as 'Quote of the day: <quote>'.",
        skills=["answer", "format"],
        keywords=["quote"],
        chained=True,
        expect=["quote of the day"],
    ),
    _n(
        "Give a one-sentence summary of photosynthesis under the heading 'Biology'.",
        skills=["answer", "format"],
        keywords=["photosynthesis"],
        chained=True,
        expect=["biology"],
    ),
    _n(
        "Summarise the plot of Romeo and Juliet, then translate the summary into French.",
        skills=["answer"],
        keywords=["Romeo"],
        chained=True,
    ),
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


_HEAVY = ("backtest_sweep", "deep_research", "lora_finetune", "video_render")


def _h(task: str, **kw: Any) -> EvalTask:
    """A task that needs one of the heavy skills (planned against ``HEAVY_CATALOGUE``)."""
    return _t(task, tags=("heavy",), **kw)


HEAVY_TASKS: tuple[EvalTask, ...] = (
    _h(
        "Using my notes corpus, find out when spring tides happen and cite the sources.",
        skills=["deep_research"],
        keywords=["spring tides"],
        max_steps=2,
    ),
    _h(
        "Research in the python-docs corpus how asyncio.gather handles exceptions.",
        skills=["deep_research"],
        keywords=["gather"],
        max_steps=2,
    ),
    _h(
        "Search my documents for what our refund policy says, then summarise it in one line.",
        skills=["deep_research"],
        keywords=["refund"],
        chained=True,
        max_steps=3,
    ),
    _h(
        "Fine-tune the small model on pirate.jsonl so it answers like a pirate.",
        skills=["lora_finetune"],
        keywords=["pirate.jsonl"],
        max_steps=2,
    ),
    _h(
        "Train a LoRA adapter on support_replies.jsonl for 50 steps and show answers before "
        "and after.",
        skills=["lora_finetune"],
        keywords=["support_replies.jsonl"],
        max_steps=2,
    ),
    # backtest_sweep and video_render: the planner must reach for them, not write a backtest
    # or a renderer in Python.
    _h(
        "Backtest a moving-average crossover strategy on synthetic prices over a grid of fast "
        "and slow windows, with walk-forward validation.",
        skills=["backtest_sweep"],
        keywords=["ma_crossover"],
        max_steps=2,
    ),
    _h(
        "Sweep momentum lookbacks on my file prices.csv and tell me which parameters have the "
        "best Sharpe ratio.",
        skills=["backtest_sweep", "answer"],
        keywords=["momentum", "prices.csv"],
        chained=True,
        max_steps=3,
    ),
    _h(
        "Make a short video with a title card and a bar chart of sales 3, 5 and 8 for Q1 to Q3.",
        skills=["video_render"],
        keywords=["sales"],
        max_steps=2,
    ),
    _h(
        "Create a short video for the team that presents our three goals for next year as "
        "bullet points.",
        skills=["video_render"],
        max_steps=2,
    ),
    _h(
        "Backtest a mean reversion strategy on synthetic data, then render a short video that "
        "presents the best Sharpe ratio it found.",
        skills=["backtest_sweep", "video_render"],
        keywords=["mean_reversion"],
        chained=True,
        max_steps=3,
    ),
    # Near misses: the words of a heavy skill, but a question about it; no heavy skill.
    *(
        _t(task, skills=["answer"], keywords=[kw], max_steps=2, tags=("near",), avoid=_HEAVY)
        for task, kw in (
            ("Explain what a backtest is and why walk-forward validation matters.", "backtest"),
            ("What is LoRA fine-tuning? Answer in two sentences.", "LoRA"),
            ("Write a short script for a video about our new bakery.", "bakery"),
            ("Describe how a good research report cites its sources.", "sources"),
        )
    ),
)


def _inputs_text(plan: Plan) -> str:
    return " ".join(str(v) for s in plan.steps for v in s.inputs.values()).lower()


def grade(plan: Plan, task: EvalTask) -> list[str]:
    """What the plan misses of ``task``'s expectations (empty: correct)."""
    used = {s.skill for s in plan.steps}
    misses = [f"no {s} step" for s in sorted(task.skills - used)]
    misses += [f"uses {s}, which the task does not need" for s in sorted(task.avoid & used)]
    if task.any_of and not task.any_of & used:
        misses.append(f"none of {sorted(task.any_of)}")
    text = _inputs_text(plan)
    misses += [f"inputs lack {k!r}" for k in task.keywords if k.lower() not in text]
    if task.chained and not any(
        not isinstance(r, Exception) for s in plan.steps for r in find_refs(s.inputs)
    ):
        misses.append("no step uses an earlier output")
    if len(plan.steps) > task.max_steps:
        misses.append(f"{len(plan.steps)} steps, at most {task.max_steps} expected")
    for s in plan.steps:
        code = s.inputs.get("code") if s.skill == "python" else None
        if isinstance(code, str) and not _compiles(code):
            misses.append(f"step {s.id}: its Python code does not compile")
    return misses


def _compiles(code: str) -> bool:
    # Placeholders are filled at run time: judge the code with each one as a name.
    text = re.sub(r"(?<!\$)\$\{[^}]*\}", "_ref", code)
    try:
        compile(text, "<plan>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def judge_answer(answer: str, task: EvalTask) -> bool | None:
    """End to end: does the run's final answer contain an expected text? None: not checkable."""
    if not task.expect:
        return None
    low = answer.lower()
    return any(e.lower() in low for e in task.expect)


def catalogue_names(catalogue: Sequence[Mapping[str, Any]] = EVAL_CATALOGUE) -> list[str]:
    """The skill names of a catalogue."""
    return [str(e["name"]) for e in catalogue]
