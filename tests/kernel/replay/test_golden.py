"""T2.1–T2.3: the committed golden traces replay with sockets blocked — zero divergences, zero
live calls, the same report twice — and mutations of the program are caught at the right step.

Regenerate the traces deliberately with ``tests/golden/regenerate.py --write``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from skills_for_tests import TEST_SKILLS, Ask, AskIn, TextOut

from sgr_kernel.llm.base import LLMRequest, Message
from sgr_kernel.models.status import RunStatus
from sgr_kernel.replay import ReplayEngine, ReplayReport
from sgr_kernel.skills.base import Skill, SkillContext
from sgr_kernel.trace.base import Record, RecordType
from sgr_kernel.trace.wal import FileTraceStore

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
CASES = {
    "success": RunStatus.COMPLETED,
    "retry": RunStatus.COMPLETED,
    "failure": RunStatus.FAILED,
    "approval": RunStatus.COMPLETED,
    "budget": RunStatus.ABORTED,
}


class _NetworkBlocked(AssertionError):
    pass


_REAL_SOCKET = socket.socket


class _GuardedSocket(_REAL_SOCKET):
    """Refuses Internet sockets; the event loop's own AF_UNIX self-pipe still works."""

    def __init__(self, family: int = -1, type: int = -1, proto: int = -1, fileno: Any = None):
        if fileno is None and family not in (socket.AF_UNIX,):
            raise _NetworkBlocked(f"replay opened a socket (family {family})")
        super().__init__(family, type, proto, fileno)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise _NetworkBlocked(f"replay reached for the network: {args[:2]}")

    monkeypatch.setattr(socket, "socket", _GuardedSocket)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_the_network_is_really_blocked() -> None:
    with pytest.raises(_NetworkBlocked):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(_NetworkBlocked):
        socket.create_connection(("127.0.0.1", 9))


def _records(case: str) -> list[Record]:
    return list(FileTraceStore(GOLDEN).read(case).records)


HANG_GUARD_S = 10.0
"""Not a timing assertion: a replay that never ends must fail the test, not hang CI."""


def _replay(records: list[Record], skills: dict[str, type[Skill]] | None = None) -> ReplayReport:
    engine = ReplayEngine(skills or TEST_SKILLS)
    return asyncio.run(asyncio.wait_for(engine.replay_run(records, strict=False), HANG_GUARD_S))


def test_golden_traces_replay_exactly() -> None:
    divergences = live = 0
    for case, status in CASES.items():
        records = _records(case)
        first, second = _replay(records), _replay(records)
        assert first.recorded_status is status, case
        assert first.replayed_status is status, (case, first.divergences)
        assert first.divergences == [], (case, first.divergences)
        assert first.live_calls == 0
        assert first.model_dump() == second.model_dump()  # replay is idempotent
        divergences += len(first.divergences) + len(second.divergences)
        live += first.live_calls + second.live_calls
    print(
        f"FIGURE golden traces={len(CASES)} replays={2 * len(CASES)} "
        f"divergences={divergences} live_calls={live} identical_twice={len(CASES)}/{len(CASES)}"
    )


def test_denied_approval_replays() -> None:
    """A denied step never launched; replay applies the recorded denial when it is ready."""
    report = _replay(_records("denial"))
    assert report.recorded_status is RunStatus.FAILED
    assert report.divergences == []
    assert report.replayed_status is RunStatus.FAILED


# ---------------------------------------------------------------- mutations


def _edit_plan(records: list[Record], edit: Callable[[dict[str, Any]], None]) -> list[Record]:
    first = records[0]
    assert first.type is RecordType.RUN_CREATED
    data = {**first.data, "plan": _deep(first.data["plan"])}
    edit(data["plan"])
    return [first.model_copy(update={"data": data}), *records[1:]]


def _deep(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))


def _step(plan: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in plan["steps"] if s["id"] == sid)


class AskTwice(Ask):
    """Makes one more model call than the recorded code did."""

    async def run(self, ctx: SkillContext, inputs: Any) -> TextOut:
        req = LLMRequest(messages=(Message(role="user", content=inputs.question),))
        await ctx.llm(req)
        resp = await ctx.llm(req)
        return TextOut(text=resp.text)


class AskChanged(Ask):
    """Asks the model something else than the recorded code did."""

    async def run(self, ctx: SkillContext, inputs: AskIn) -> TextOut:
        req = LLMRequest(messages=(Message(role="user", content=inputs.question + "?"),))
        return TextOut(text=(await ctx.llm(req)).text)


class AskHotter(Ask):
    """Changes a model parameter (temperature)."""

    async def run(self, ctx: SkillContext, inputs: AskIn) -> TextOut:
        msgs = (Message(role="user", content=inputs.question),)
        return TextOut(text=(await ctx.llm(LLMRequest(messages=msgs, temperature=0.7))).text)


def _reorder(plan: dict[str, Any]) -> None:
    # a -> f -> z becomes a -> z -> f: z now runs before f.
    _step(plan, "z")["inputs"] = {}
    _step(plan, "f")["depends_on"] = ["z"]


def _set_input(sid: str, name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(plan: dict[str, Any]) -> None:
        _step(plan, sid)["inputs"][name] = value

    return edit


def _drop(sid: str) -> Callable[[dict[str, Any]], None]:
    def edit(plan: dict[str, Any]) -> None:
        plan["steps"] = [s for s in plan["steps"] if s["id"] != sid]

    return edit


MUTATIONS: list[tuple[str, str, Any, dict[str, type[Skill]] | None, str]] = [
    # (name, golden case, plan edit or None, skills override or None, step expected)
    ("reorder steps", "retry", _reorder, None, "f"),
    ("change a step input", "success", _set_input("a", "x", 40), None, "a"),
    ("change a tool argument", "success", _set_input("job", "x", 2), None, "job"),
    ("remove a step", "success", _drop("clock"), None, "clock"),
    ("extra LLM call", "success", None, {**TEST_SKILLS, "ask": AskTwice}, "ask"),
    ("changed LLM request", "success", None, {**TEST_SKILLS, "ask": AskChanged}, "ask"),
    ("changed LLM parameter", "budget", None, {**TEST_SKILLS, "ask": AskHotter}, "ask"),
    ("extra LLM call after a failure", "failure", None, {**TEST_SKILLS, "ask": AskTwice}, "ask"),
]


def _detect(mutation: tuple[str, str, Any, Any, str]) -> tuple[bool, Any]:
    name, case, edit, skills, step = mutation
    records = _records(case)
    if edit is not None:
        records = _edit_plan(records, edit)
    try:
        report = _replay(records, skills)
    except TimeoutError:
        return False, "replay never ended"
    assert report.live_calls == 0, name
    first = report.divergences[0] if report.divergences else None
    return first is not None and first.step == step, first


@pytest.mark.parametrize(
    "mutation",
    [pytest.param(m, id=m[0].replace(" ", "-")) for m in MUTATIONS],
)
def test_mutation_is_detected_at_the_right_step(mutation: Any) -> None:
    ok, first = _detect(mutation)
    assert ok, (mutation[0], mutation[4], first)


def test_mutation_figure() -> None:
    results = {m[0]: _detect(m)[0] for m in MUTATIONS}
    detected = sum(results.values())
    print(
        f"FIGURE mutations={len(MUTATIONS)} detected={detected} "
        f"silent_or_hung={len(MUTATIONS) - detected}"
    )
    assert all(results.values()), results
