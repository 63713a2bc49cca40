"""Schema-guided generation: JSON schema from a pydantic model, validation, bounded repair.

The caller supplies ``call``, an ``async (LLMRequest) -> LLMResponse``: the engine passes its
recorded, budget-checked call, tests pass ``ScriptedLLM().complete``. Everything here is pure
and deterministic given the responses, so strict replay re-runs it unchanged.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sgr_kernel.errors import LLMInvalidOutput
from sgr_kernel.llm.base import LLMRequest, LLMResponse, Message, Usage

__all__ = [
    "DEFAULT_MAX_STRING_LENGTH",
    "GenerationResult",
    "LLMCall",
    "generate",
    "json_schema_for",
    "json_schema_for_raw",
    "parse_output",
    "sum_usage",
]

M = TypeVar("M", bound=BaseModel)
LLMCall = Callable[[LLMRequest], Awaitable[LLMResponse]]

DEFAULT_MAX_STRING_LENGTH = 1000
"""``maxLength`` given to strings the model left unbounded: a looping model must stop."""

_DROP_KEYS = ("title", "default", "discriminator", "examples")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_MAX_ERRORS = 12


class GenerationResult(BaseModel, Generic[M]):
    """The validated value and what it took to get it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    value: M = Field(description="The validated output.")
    usage: Usage = Field(description="Usage summed over every attempt.")
    attempts: int = Field(ge=1, description="Model calls made, the first included.")
    responses: tuple[LLMResponse, ...] = Field(description="Every raw response, in order.")


def json_schema_for(
    model_cls: type[BaseModel], *, max_string_length: int = DEFAULT_MAX_STRING_LENGTH
) -> dict[str, Any]:
    """A strict-friendly JSON schema for ``model_cls``.

    Every object gets ``additionalProperties: false`` and lists all its properties as
    required (as OpenAI's strict mode demands; optional fields stay nullable), references are
    inlined, ``oneOf``/``const`` become ``anyOf``/``enum``, and every string without a
    ``maxLength`` gets ``max_string_length``, so a constrained decoder always terminates; a
    declared ``maxLength`` is kept as it is.
    """
    return json_schema_for_raw(
        model_cls.model_json_schema(by_alias=True), max_string_length=max_string_length
    )


def json_schema_for_raw(
    schema: dict[str, Any], *, max_string_length: int = DEFAULT_MAX_STRING_LENGTH
) -> dict[str, Any]:
    """:func:`json_schema_for` of a JSON schema already written (a catalogue entry's inputs)."""
    raw = copy.deepcopy(schema)
    defs: dict[str, Any] = raw.pop("$defs", {})
    out: dict[str, Any] = _normalise(raw, defs, (), max_string_length)
    if any(isinstance(v, dict) and "$ref" in v for v in _walk(out)):
        # A recursive model cannot be fully inlined: keep the definitions it still needs.
        out["$defs"] = {k: _normalise(v, defs, (k,), max_string_length) for k, v in defs.items()}
    return out


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _normalise(node: Any, defs: dict[str, Any], stack: tuple[str, ...], max_len: int) -> Any:
    if isinstance(node, list):
        return [_normalise(v, defs, stack, max_len) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in stack:
            return {"$ref": ref}
        target = copy.deepcopy(defs[name])
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return _normalise({**target, **extra}, defs, (*stack, name), max_len)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP_KEYS:
            continue
        if key == "properties":
            out[key] = {p: _normalise(s, defs, stack, max_len) for p, s in value.items()}
        elif key == "oneOf":
            out["anyOf"] = _normalise(value, defs, stack, max_len)
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = _normalise(value, defs, stack, max_len)
    if out.get("type") == "string" and "enum" not in out and "maxLength" not in out:
        # Only unbounded strings get the default: a declared bound is what the field needs
        # (the code of ``code_interpreter`` may be 20,000 characters long).
        out["maxLength"] = max_len
    if out.get("type") == "object" and "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list(out["properties"])
    return out


def sum_usage(usages: Sequence[Usage]) -> Usage:
    """Add up usages."""
    return Usage(
        prompt_tokens=sum(u.prompt_tokens for u in usages),
        completion_tokens=sum(u.completion_tokens for u in usages),
        cost_usd=sum(u.cost_usd for u in usages),
    )


def _load_json(text: str) -> Any:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    # strict=False: raw newlines inside strings, as stock llama.cpp grammars let a model
    # write, are read as the newlines they mean instead of failing the answer.
    try:
        return json.loads(body, strict=False)
    except json.JSONDecodeError:
        # Chatty models wrap the object in prose; try the outermost braces once.
        start, end = body.find("{"), body.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(body[start : end + 1], strict=False)
            except json.JSONDecodeError:
                pass
        raise


def parse_output(output_cls: type[M], text: str) -> tuple[M | None, list[str]]:
    """Parse and validate ``text`` as ``output_cls``: the value, or the list of problems."""
    try:
        data = _load_json(text)
    except json.JSONDecodeError as e:
        snippet = text.strip()[:80]
        return None, [f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno}): {snippet!r}"]
    try:
        return output_cls.model_validate(data), []
    except ValidationError as e:
        problems = [
            f"{'.'.join(map(str, err['loc'])) or '(root)'}: {err['msg']}"
            for err in e.errors(include_url=False, include_input=False)
        ]
        return None, problems


def _repair_message(problems: list[str]) -> Message:
    listed = "\n".join(f"- {p}" for p in problems[:_MAX_ERRORS])
    more = f"\n- … and {len(problems) - _MAX_ERRORS} more" if len(problems) > _MAX_ERRORS else ""
    return Message(
        role="user",
        content=(
            f"Your answer did not match the required JSON schema:\n{listed}{more}\n"
            "Reply again with only the corrected JSON object, nothing else."
        ),
    )


async def generate(
    call: LLMCall,
    output_cls: type[M],
    messages: Sequence[Message],
    *,
    max_repairs: int = 2,
    request_defaults: Mapping[str, Any] | None = None,
    json_schema: dict[str, Any] | None = None,
) -> GenerationResult[M]:
    """Ask for an ``output_cls`` and validate it, repairing at most ``max_repairs`` times.

    Each repair sends the model its own answer and the validation errors.

    Args:
        call: The model call (the engine's recorded, budget-checked one).
        output_cls: The pydantic model the answer must validate as.
        messages: The conversation so far.
        max_repairs: Extra attempts after the first.
        request_defaults: Other :class:`LLMRequest` fields (``model``, ``temperature``,
            ``max_tokens``, ``seed``).
        json_schema: The schema to send, default :func:`json_schema_for` of ``output_cls``.

    Raises:
        LLMInvalidOutput: The answer was still invalid after the last repair.
        LLMError: Whatever ``call`` raised (retry is the caller's business).
    """
    schema = json_schema if json_schema is not None else json_schema_for(output_cls)
    history = list(messages)
    responses: list[LLMResponse] = []
    problems: list[str] = []
    for _ in range(max_repairs + 1):
        request = LLMRequest(
            messages=tuple(history),
            json_schema=schema,
            schema_name=output_cls.__name__,
            **dict(request_defaults or {}),
        )
        response = await call(request)
        responses.append(response)
        value, problems = parse_output(output_cls, response.text)
        if value is not None:
            usage = sum_usage([r.usage for r in responses])
            return GenerationResult[M](
                value=value, usage=usage, attempts=len(responses), responses=tuple(responses)
            )
        history += [Message(role="assistant", content=response.text), _repair_message(problems)]
    raise LLMInvalidOutput(
        f"the model's {output_cls.__name__} stayed invalid after {len(responses)} attempt(s) "
        f"({max_repairs} repair(s)): " + "; ".join(problems[:_MAX_ERRORS])
    )
