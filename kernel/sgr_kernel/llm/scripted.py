"""A scripted model for tests and demos: serves prepared replies in order (``scripted:PATH``).

Each reply is one of:

- a ``str``: served as the text;
- an :class:`~sgr_kernel.llm.base.LLMResponse`: served as is;
- a mapping with a string ``"text"`` and nothing but ``"usage"``/``"finish_reason"`` beside
  it: the text, with that usage;
- a pydantic model or any other JSON value (dict, list, number …): served as its JSON text;
- an exception instance: raised when its turn comes (to script provider failures).

Without an explicit usage, tokens are estimated as ``ceil(chars / 4)`` so that budgets have
something deterministic to count.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sgr_kernel.errors import ConfigError, LLMError
from sgr_kernel.llm.base import LLMRequest, LLMResponse, TokenCallback, Usage

__all__ = ["ScriptedLLM"]

_REPLY_KEYS = {"text", "usage", "finish_reason"}


def _estimate(text: str) -> int:
    return math.ceil(len(text) / 4)


def _to_reply(item: Any) -> LLMResponse | BaseException:
    if isinstance(item, LLMResponse | BaseException):
        return item
    if isinstance(item, str):
        return LLMResponse(text=item)
    if isinstance(item, BaseModel):
        return LLMResponse(text=item.model_dump_json())
    if isinstance(item, dict) and isinstance(item.get("text"), str) and set(item) <= _REPLY_KEYS:
        return LLMResponse.model_validate(item)
    return LLMResponse(text=json.dumps(item, ensure_ascii=False))


MAX_SCRIPT_BYTES = 64 * 1024 * 1024
"""Largest scripted-replies file read."""


class ScriptedLLM:
    """An :class:`~sgr_kernel.llm.base.LLMClient` that serves prepared replies in order.

    Attributes:
        requests: Every request seen, in order (for assertions).
    """

    name = "scripted"

    def __init__(self, responses: Iterable[Any], *, model: str = "scripted") -> None:
        self._replies = [_to_reply(r) for r in responses]
        self._next = 0
        self.model = model
        self.requests: list[LLMRequest] = []

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedLLM:
        """Load a JSONL file: one reply per non-blank line (see the module docstring).

        Raises:
            ConfigError: The file is missing, or a line is not JSON or not a valid reply.
        """
        p = Path(path)
        try:
            if not p.is_file():
                raise ConfigError(f"scripted replies {p}: cannot read: not a regular file")
            size = p.stat().st_size
            if size > MAX_SCRIPT_BYTES:  # checked before reading: the file may be huge
                raise ConfigError(
                    f"scripted replies {p}: {size} bytes is over the {MAX_SCRIPT_BYTES} byte limit"
                )
            lines = p.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise ConfigError(f"scripted replies {p}: cannot read: {e.strerror or e}") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"scripted replies {p}: not UTF-8 (byte {e.start})") from None
        replies: list[Any] = []
        for no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                replies.append(_to_reply(json.loads(line)))
            except (ValueError, RecursionError, ValidationError) as e:
                raise ConfigError(f"{p}:{no}: not a scripted reply: {e}") from None
        return cls(replies)

    @property
    def remaining(self) -> int:
        """Replies not served yet."""
        return len(self._replies) - self._next

    async def complete(
        self, request: LLMRequest, *, on_token: TokenCallback | None = None
    ) -> LLMResponse:
        """Serve the next reply (streamed word by word to ``on_token`` when given).

        Raises:
            LLMError: The script is exhausted (not retryable; the message shows the request).
            BaseException: Whatever exception the script holds at this turn.
        """
        self.requests.append(request)
        if self._next >= len(self._replies):
            last = request.messages[-1].content if request.messages else ""
            raise LLMError(
                f"scripted LLM has no reply left: all {len(self._replies)} were served; "
                f"request #{len(self.requests)} ({request.schema_name or 'text'}) "
                f"ends with: {last[:200]!r}"
            )
        reply = self._replies[self._next]
        self._next += 1
        if isinstance(reply, BaseException):
            raise reply
        if on_token is not None:
            pieces = reply.text.split(" ")
            for i, piece in enumerate(pieces):
                on_token(piece if i == len(pieces) - 1 else piece + " ")
        usage = reply.usage
        if "usage" not in reply.model_fields_set:
            prompt = sum(_estimate(m.content) for m in request.messages)
            usage = Usage(prompt_tokens=prompt, completion_tokens=_estimate(reply.text))
        return reply.model_copy(
            update={
                "usage": usage,
                "model": reply.model or self.model,
                "finish_reason": reply.finish_reason or "stop",
            }
        )
