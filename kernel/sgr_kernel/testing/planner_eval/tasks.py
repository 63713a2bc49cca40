"""The evaluation's tasks and what a correct plan for each contains."""

from __future__ import annotations

from typing import Any

from sgr_kernel.testing.planner_eval.base import EvalTask, _n, _t

__all__ = ["EVAL_TASKS", "HEAVY_TASKS"]


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
