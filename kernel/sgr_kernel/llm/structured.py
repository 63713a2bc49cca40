"""Structured-output modes of OpenAI-compatible servers, and finding out which one works.

Servers differ in how (and whether) they constrain an answer to a JSON schema:

- ``json_schema``: ``response_format={"type": "json_schema", ...}`` (OpenAI, vLLM, Ollama ≥ 0.5);
- ``json_object_schema``: ``response_format={"type": "json_object", "schema": ...}``, which
  llama-cpp-python's server turns into a grammar (and which others accept as plain JSON mode);
- ``tool_call``: one function whose parameters are the schema, forced with ``tool_choice``;
- ``prompt``: the schema in the system prompt, no constraint; ``schema_guided`` validates and
  repairs as in every mode.

A mode is *enforced* only if the server constrains the output. :func:`probe_request` builds a
tiny request whose schema an unconstrained model would never satisfy by chance (a one-value
enum), and :func:`probe_outcome` classifies the answer: accepted and obeyed, refused (an
error that names the feature, whatever the status: 400, 422, 501, or llama-cpp's 500), or
ignored (HTTP 200 with text that does not match). The strongest enforced mode wins.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from sgr_kernel.llm._schema_edit import edit_strings
from sgr_kernel.llm.plan_grammar import strip_annotations

__all__ = [
    "GRAMMAR_MAX_LENGTH",
    "MODES",
    "PROBE_NAME",
    "PROBE_VALUE",
    "Mode",
    "apply_mode",
    "delta_text",
    "error_text",
    "is_capability_refusal",
    "message_text",
    "probe_outcome",
    "probe_request",
    "refused",
    "relax_long_strings",
]

Mode = Literal["json_schema", "json_object_schema", "tool_call", "prompt"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object_schema", "tool_call", "prompt")
"""Strongest first; ``prompt`` needs no support and is never probed."""

PROBE_NAME = "sgr_capability_probe"
PROBE_VALUE = "sgr-structured-ok"
_PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"probe": {"type": "string", "enum": [PROBE_VALUE]}},
    "required": ["probe"],
    "additionalProperties": False,
}

# Words with which real servers name the structured-output feature they refuse.
_FEATURE_WORDS = (
    "response_format",
    "json_schema",
    "json_object",
    "tool_choice",
    "tools",
    "tool call",
    "function",
    "grammar",
    "guided",
    "schema",
)
_REFUSAL_STATUSES = (400, 422, 500, 501)

GRAMMAR_MAX_LENGTH = 1000
"""Longest ``maxLength`` sent in ``json_object_schema`` and ``tool_call`` modes.

llama-cpp-python's server writes a bound of N as N nested grammar groups and crashes above
about a thousand; a longer field is sent unbounded (``max_tokens`` still ends it, and
validation still applies the real bound)."""


def relax_long_strings(schema: dict[str, Any], limit: int = GRAMMAR_MAX_LENGTH) -> dict[str, Any]:
    """A copy of ``schema`` without the ``maxLength`` bounds above ``limit``."""

    def unbound(node: dict[str, Any]) -> None:
        if int(node.get("maxLength", 0)) > limit:
            del node["maxLength"]

    return edit_strings(schema, unbound)


def is_capability_refusal(status: int, message: str, param: str | None = None) -> bool:
    """Does this HTTP error say "this server does not do that structured-output mode"?

    Decided from the message as well as the status: llama-cpp-python's server answers an
    unknown ``response_format`` with 500, vLLM and Ollama with 400, FastAPI servers with 422
    (the request failed validation at ``response_format``). A 500 that names none of the
    feature's words is an ordinary server error.
    """
    if status not in _REFUSAL_STATUSES:
        return False
    text = f"{param or ''} {message}".lower()
    return any(word in text for word in _FEATURE_WORDS)


def _schema_prompt(schema: dict[str, Any]) -> str:
    text = json.dumps(schema, separators=(",", ":"))
    return f"Answer with one JSON object, nothing else, matching this JSON schema: {text}"


def apply_mode(
    mode: Mode,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    name: str,
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The messages and extra request parameters that ask for ``schema`` in ``mode``."""
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64] or "answer"
    schema = strip_annotations(schema)  # x-sgr-* keys are for the local grammar only
    if mode == "json_schema":
        rf = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
        return messages, {"response_format": rf}
    if mode == "json_object_schema":
        rf = {"type": "json_object", "schema": relax_long_strings(schema)}
        return messages, {"response_format": rf}
    if mode == "tool_call":
        tool = {
            "type": "function",
            "function": {
                "name": name,
                "description": f"Record the {name}.",
                "parameters": relax_long_strings(schema),
            },
        }
        choice = {"type": "function", "function": {"name": name}}
        return messages, {"tools": [tool], "tool_choice": choice}
    system = {"role": "system", "content": _schema_prompt(schema)}
    return [system, *messages], {}


def probe_request(mode: Mode, model: str) -> dict[str, Any]:
    """A tiny chat request that only a server enforcing ``mode`` answers with the probe value."""
    messages = [{"role": "user", "content": "Say hello."}]
    msgs, extra = apply_mode(mode, messages, _PROBE_SCHEMA, PROBE_NAME)
    return {"model": model, "messages": msgs, "temperature": 0.0, "max_tokens": 24, **extra}


def probe_outcome(text: str | None) -> bool:
    """Did the server obey the probe's schema (a JSON object with the enum's one value)?"""
    if not text:
        return False
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(data, dict) and data.get("probe") == PROBE_VALUE


def _param(e: Any) -> str | None:
    param = getattr(e, "param", None)
    return str(param) if param is not None else None


def error_text(e: Any) -> str:
    """An SDK status error's message and body, as text."""
    # The SDK's message drops bodies it does not recognise (FastAPI's {"detail": [...]},
    # vLLM's flat {"object": "error", ...}): read the body as well.
    parts = [e.message]
    body = getattr(e, "body", None)
    if body is not None:
        parts.append(body if isinstance(body, str) else json.dumps(body, default=str))
    return " ".join(parts)


def refused(e: Any) -> bool:
    """Is this SDK status error a refusal of the structured-output mode asked for?"""
    return is_capability_refusal(e.status_code, error_text(e), _param(e))


def message_text(message: Any, mode: Mode | None) -> str:
    """The answer in a completion's message (``mode`` says where to look)."""
    # A forced tool call answers in the call's arguments; some servers put it in content.
    if mode == "tool_call":
        calls = getattr(message, "tool_calls", None) or []
        for call in calls:
            fn = getattr(call, "function", None)
            if fn is not None and fn.arguments:
                return str(fn.arguments)
    return str(getattr(message, "content", None) or "")


def delta_text(delta: Any, mode: Mode | None) -> str:
    """The text in one streamed delta."""
    if delta is None:
        return ""
    if mode == "tool_call":
        for call in getattr(delta, "tool_calls", None) or []:
            fn = getattr(call, "function", None)
            if fn is not None and fn.arguments:
                return str(fn.arguments)
    return str(delta.content or "")
