"""Host side of the runner protocol: demultiplex the attach stream, cap lines, check replies.

Everything that comes out of the container is untrusted. Lines are length-capped before they
are parsed, replies are parsed as JSON only (never pickle), and values are depth-checked
iteratively, so a hostile reply costs bounded memory and cannot raise past this module.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass
from typing import Any

from sgr_kernel.sandbox.base import SandboxLimits

__all__ = ["EOF", "LineReader", "ProtocolViolation", "Reply", "json_depth", "parse_reply"]

EOF = b""
"""Queued by :class:`LineReader` when the stream ends."""

_HEADER = struct.Struct(">BxxxL")


class ProtocolViolation(Exception):
    """The container broke the protocol (oversized line, bad JSON, wrong shape)."""


def max_line_bytes(limits: SandboxLimits) -> int:
    """The longest reply line accepted: every capped field escaped at worst 6× plus slack."""
    return 6 * (2 * limits.output_bytes + limits.result_bytes + 8192) + (1 << 16)


class LineReader:
    """Reads Docker's multiplexed attach stream in a task and queues complete lines.

    A background task (rather than reads inside ``execute``) keeps the framing intact when a
    caller's wait is cancelled at a deadline: no half-read frame is ever dropped.
    """

    def __init__(self, reader: asyncio.StreamReader, max_line: int, *, raw: bool = False) -> None:
        self.lines: asyncio.Queue[bytes | ProtocolViolation] = asyncio.Queue(maxsize=64)
        self._reader, self._max, self._raw = reader, max_line, raw
        self._buf = bytearray()
        self.task = asyncio.ensure_future(self._pump())

    async def _chunks(self) -> bytes:
        if self._raw:
            return await self._reader.read(1 << 16)
        try:
            header = await self._reader.readexactly(_HEADER.size)
        except asyncio.IncompleteReadError:
            return EOF
        _stream, size = _HEADER.unpack(header)
        try:
            return await self._reader.readexactly(size)
        except asyncio.IncompleteReadError as e:
            return bytes(e.partial)

    async def _pump(self) -> None:
        try:
            while True:
                chunk = await self._chunks()
                if not chunk:
                    break
                self._buf += chunk
                while (nl := self._buf.find(b"\n")) >= 0:
                    line = bytes(self._buf[:nl])
                    del self._buf[: nl + 1]
                    await self.lines.put(line)
                if len(self._buf) > self._max:
                    await self.lines.put(ProtocolViolation(f"reply line over {self._max} bytes"))
                    return
        except (ConnectionError, OSError):
            pass
        await self.lines.put(EOF)

    def close(self) -> None:
        self.task.cancel()


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, iteratively, stopping once past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return deepest


@dataclass(frozen=True)
class Reply:
    """A checked reply, ready to become an ``ExecResult``."""

    ok: bool
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    value: Any
    value_repr: str | None
    error_type: str | None
    error: str | None
    figures: tuple[str, ...]


def _cap(text: Any, dropped: Any, cap: int) -> tuple[str, bool]:
    if not isinstance(text, str):
        raise ProtocolViolation("output field is not a string")
    more = dropped if isinstance(dropped, int) and dropped > 0 else 0
    data = text.encode("utf-8", "replace")
    if len(data) > cap:
        more += len(data) - cap
        text = data[:cap].decode("utf-8", "ignore")
    if more:
        return f"{text}\n[sgr-sandbox: output truncated, {more} more bytes dropped]", True
    return text, False


def _opt_str(v: Any, cap: int) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise ProtocolViolation("expected a string")
    return v[:cap]


def parse_reply(line: bytes, req_id: int, limits: SandboxLimits) -> Reply | None:
    """Parse one reply line; ``None`` when it answers another request (a stale or forged line).

    Raises:
        ProtocolViolation: the line is not a well-formed reply.
    """
    # Cheap prefix test first: a flood of forged lines must not cost a JSON parse each.
    if not line.startswith(b'{"id": %d,' % req_id):
        return None
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as e:
        raise ProtocolViolation(f"reply is not JSON: {type(e).__name__}") from None
    if not isinstance(obj, dict) or obj.get("id") != req_id:
        return None
    ok = obj.get("ok") is True
    stdout, out_t = _cap(obj.get("stdout", ""), obj.get("stdout_dropped"), limits.output_bytes)
    stderr, err_t = _cap(obj.get("stderr", ""), obj.get("stderr_dropped"), limits.output_bytes)
    error_type = _opt_str(obj.get("error_type"), 200)
    error = _opt_str(obj.get("error"), limits.output_bytes)
    value, value_repr = obj.get("value"), _opt_str(obj.get("value_repr"), 4096)
    value_error = _opt_str(obj.get("value_error"), 500)
    if value is not None:
        if json_depth(value, limits.result_depth) > limits.result_depth:
            value, value_error = None, f"result nested deeper than {limits.result_depth}"
        elif len(json.dumps(value)) > limits.result_bytes:
            value, value_error = None, f"result larger than {limits.result_bytes} bytes"
    if ok and value_error is not None and obj.get("value_fatal", True):
        # A JSON result over the limits is a failure with its reason, not a silent None.
        ok, error_type, error = False, "ResultRejected", value_error
    figures = obj.get("figures") or []
    if not isinstance(figures, list):
        raise ProtocolViolation("figures is not a list")
    return Reply(
        ok=ok,
        stdout=stdout,
        stderr=stderr,
        stdout_truncated=out_t,
        stderr_truncated=err_t,
        value=value,
        value_repr=value_repr,
        error_type=error_type,
        error=error,
        figures=tuple(str(f)[:300] for f in figures[:64]),
    )
