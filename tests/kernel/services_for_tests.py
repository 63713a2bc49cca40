"""Test-only services for the engine, fault and replay tests: the sink (an append-only file
every test side effect writes one line to; it survives SIGKILL), a dispatcher and an HTTP
transport that write there, an echo model, and a clock and entropy that repeat exactly.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from sgr_kernel.dispatch.base import JobHandle
from sgr_kernel.errors import RemoteJobError
from sgr_kernel.llm.base import LLMRequest, LLMResponse, TokenCallback, Usage
from sgr_kernel.models.remote import RemoteJobSpec
from sgr_kernel.skills.base import HttpResponse
from sgr_kernel.trace._crash import crashpoint

__all__ = [
    "EchoLLM",
    "SeqEntropy",
    "SinkDispatcher",
    "TickClock",
    "append_line",
    "read_sink",
    "sink_transport",
]

# ---------------------------------------------------------------- services


def append_line(path: Path, line: str) -> None:
    # One write(2) on an O_APPEND fd: the line is whole in the page cache, even after SIGKILL.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def read_sink(path: Path) -> list[str]:
    """The effect lines in the sink, in order (missing file: none)."""
    try:
        return [ln for ln in path.read_text().splitlines() if ln]
    except FileNotFoundError:
        return []


class SinkDispatcher:
    """A dispatcher whose 'backend' is the sink file: a key already there is re-attached
    (its result returned, the effect not repeated), like a real backend that still knows the
    job. Crash points bracket the effect."""

    name = "sink"

    def __init__(self, sink: Path) -> None:
        self.sink = sink
        self.submitted = 0

    async def submit(self, spec: RemoteJobSpec) -> JobHandle:
        key = spec.idempotency_key
        if key in read_sink(self.sink):
            return JobHandle(key=key, backend=self.name, reattached=True)
        crashpoint("effect_before")
        self.submitted += 1
        append_line(self.sink, key)
        crashpoint("effect_after")
        return JobHandle(key=key, backend=self.name)

    async def result(self, handle: JobHandle, *, timeout_s: float | None) -> dict[str, Any]:
        if handle.key not in read_sink(self.sink):
            raise RemoteJobError(f"job {handle.key} is unknown to the sink")
        return {"value": sum(map(ord, handle.key.rsplit(":", 2)[-2])) % 997}

    async def cancel(self, handle: JobHandle) -> None:
        pass

    async def close(self) -> None:
        pass


def sink_transport(sink: Path) -> Any:
    """An HTTP transport that appends each POST body to the sink (no de-duplication)."""

    async def fetch(
        method: str, url: str, headers: dict[str, str], body: str | None, timeout_s: float
    ) -> HttpResponse:
        crashpoint("effect_before")
        if body and body.endswith(":slow"):
            await asyncio.sleep(0.3)  # still open when a call made with it finishes
        append_line(sink, f"post:{body}")
        crashpoint("effect_after")
        return HttpResponse(status=200, headers={}, body="ok")

    return fetch


class EchoLLM:
    """A deterministic model: the reply is a function of the request, so re-asking after a
    crash gets the same answer (unlike a scripted queue)."""

    name = "echo"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(
        self, request: LLMRequest, *, on_token: TokenCallback | None = None
    ) -> LLMResponse:
        self.calls += 1
        last = request.messages[-1].content if request.messages else ""
        text = f"echo: {last}"
        return LLMResponse(
            text=text,
            usage=Usage(prompt_tokens=len(last) // 4 + 1, completion_tokens=len(text) // 4 + 1),
            model="echo",
            finish_reason="stop",
        )


# ---------------------------------------------------------------- clock and entropy


class TickClock:
    """A fake clock: every monotonic reading is ``tick`` seconds after the previous one, and
    sleeps only yield. Wall-time budgets become deterministic."""

    def __init__(self, tick: float = 1.0, start: float = 1_700_000_000.0) -> None:
        self.tick, self.t = tick, 0.0
        self.start = start

    def now(self) -> float:
        return self.start + self.t

    def monotonic(self) -> float:
        self.t += self.tick
        return self.t

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


class SeqEntropy:
    """Deterministic randomness and ids."""

    def __init__(self, seed: int = 0) -> None:
        import random as _random

        self._rng = _random.Random(seed)
        self._n = 0

    def random(self) -> float:
        return self._rng.random()

    def new_id(self) -> str:
        self._n += 1
        return f"{self._n:032x}"
