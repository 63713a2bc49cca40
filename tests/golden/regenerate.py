"""Record the golden traces again — deliberately, after a change that is meant to alter them.

Usage: ``.venv/bin/python tests/golden/regenerate.py --write``

Each case runs a small plan with the test skills, a scripted model, a fake clock and seeded
entropy, and its WAL is copied to ``tests/golden/runs/<case>/wal.jsonl``. Without ``--write``
the cases are recorded into a temporary directory and only listed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "kernel"))

from services_for_tests import SeqEntropy, TickClock  # noqa: E402
from skills_for_tests import make_kernel, plan_of  # noqa: E402

from sgr_kernel.engine import RunConfig  # noqa: E402
from sgr_kernel.llm.scripted import ScriptedLLM  # noqa: E402

ASK = {"id": "ask", "skill": "ask", "inputs": {"question": "Q ${a.output.value}"}}


def _kernel(home: Path, replies: list[Any], **kw: Any) -> Any:
    return make_kernel(
        home,
        llm=ScriptedLLM(replies),
        clock=TickClock(tick=0.001),
        entropy=SeqEntropy(7),
        **kw,
    )


async def success(home: Path) -> None:
    k = _kernel(home, ["forty-two"])
    plan = plan_of(
        {"id": "a", "skill": "noop", "inputs": {"x": 41}},
        ASK,
        {"id": "job", "skill": "remote_effect", "capabilities": ["remote"], "inputs": {"x": 1}},
        {"id": "clock", "skill": "now"},
        {"id": "z", "skill": "noop", "inputs": {"u": {"$ref": "job.output.value"}}},
    )
    await k.run(plan=plan, run_id="success")


async def retry_then_success(home: Path) -> None:
    k = _kernel(home, [])
    retry = {"max_attempts": 4, "backoff_s": 0.01}
    plan = plan_of(
        {"id": "a", "skill": "noop"},
        {"id": "f", "skill": "flaky", "inputs": {"fail_times": 2}, "retry": retry},
        {"id": "z", "skill": "noop", "inputs": {"u": {"$ref": "f.output.value"}}},
    )
    await k.run(plan=plan, run_id="retry")


async def failure_skips(home: Path) -> None:
    k = _kernel(home, ["an answer"])
    plan = plan_of(
        {"id": "a", "skill": "noop", "inputs": {"x": 3}},
        {"id": "bad", "skill": "always_fail", "inputs": {"retryable": False}},
        {"id": "child", "skill": "noop", "inputs": {"u": {"$ref": "bad.output.value"}}},
        {"id": "grandchild", "skill": "noop", "depends_on": ["child"]},
        ASK,
    )
    await k.run(plan=plan, run_id="failure")


async def approval(home: Path) -> None:
    k = _kernel(home, [], pause=True)
    plan = plan_of(
        {"id": "a", "skill": "noop"},
        {
            "id": "pay",
            "skill": "post_effect",
            "capabilities": ["network"],
            "requires_approval": True,
        },
        {"id": "after", "skill": "noop", "inputs": {"u": {"$ref": "pay.output.value"}}},
    )
    await k.run(plan=plan, run_id="approval")
    k.approve("approval", "pay", by="alice")
    await (await k.resume("approval")).wait()


async def denial(home: Path) -> None:
    k = _kernel(home, [], pause=True)
    plan = plan_of(
        {"id": "a", "skill": "noop"},
        {"id": "deny_me", "skill": "noop", "requires_approval": True, "depends_on": ["a"]},
        {"id": "after", "skill": "noop", "depends_on": ["deny_me"]},
    )
    await k.run(plan=plan, run_id="denial")
    k.deny("denial", "deny_me", by="bob", reason="not today")
    await (await k.resume("denial")).wait()


async def budget_abort(home: Path) -> None:
    k = _kernel(home, ["one", "two", "three"], run=RunConfig())
    plan = plan_of(
        {"id": "a", "skill": "noop"},
        ASK,
        {"id": "ask2", "skill": "ask", "inputs": {"question": "re: ${ask.output.text}"}},
        {"id": "ask3", "skill": "ask", "inputs": {"question": "re: ${ask2.output.text}"}},
        budget={"max_llm_calls": 2},
    )
    await k.run(plan=plan, run_id="budget")


CASES: dict[str, Callable[[Path], Awaitable[None]]] = {
    "success": success,
    "retry": retry_then_success,
    "failure": failure_skips,
    "approval": approval,
    "denial": denial,
    "budget": budget_abort,
}


def record(root: Path) -> list[Path]:
    """Record every case under ``root`` (a store root); returns the WAL paths."""
    out = []
    for name, case in CASES.items():
        home = root / name
        home.mkdir(parents=True)
        asyncio.run(case(home))
        out.append(home / "runs" / name / "wal.jsonl")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="overwrite the committed traces")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for wal in record(Path(tmp)):
            run_id = wal.parent.name
            if args.write:
                dest = HERE / "runs" / run_id / "wal.jsonl"
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(wal, dest)
                print(f"wrote {dest.relative_to(HERE.parent.parent)}")
            else:
                print(
                    f"recorded {run_id}: {len(wal.read_bytes().splitlines())} lines (not written)"
                )


if __name__ == "__main__":
    main()
