"""The plan as a run's log records it: the fields its author set, and the defaults of the rest.

A 1,000-step plan dumped whole is ~300 KB, two thirds of it the same defaults on every step
(the retry policy, empty capabilities, ...); encoding it was the largest single cost of
creating a run. The log holds what the author set instead, and pins the defaults the writer
filled in beside it (``plan_defaults``), so a later version whose defaults differ reads back
the very plan that ran: the missing fields come from the pinned defaults, never from the
reader's own. A record without ``plan_defaults`` (a whole plan, as older logs hold) reads
the same way, with nothing to fill in.
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from sgr_kernel.models.plan import Plan

__all__ = ["PLAN_DEFAULTS", "plan_from_record", "plan_record"]

_Nested = dict[str, tuple[type[BaseModel], bool]]


def _model_in(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """The model a field holds (``M``, ``M | None``) or holds many of (``tuple[M, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if (origin is tuple and len(args) == 2 and args[1] is Ellipsis) or (
        origin is list and len(args) == 1
    ):
        inner = _model_in(args[0])
        return (inner[0], True) if inner is not None and not inner[1] else None
    if origin in (typing.Union, types.UnionType):
        found = [m for m in map(_model_in, args) if m is not None]
        return found[0] if len(found) == 1 else None
    return None


def _walk(model: type[BaseModel], nested: dict[type[BaseModel], _Nested]) -> None:
    if model in nested:
        return
    nested[model] = {}
    for name, field in model.model_fields.items():
        held = _model_in(field.annotation)
        if held is not None:
            nested[model][name] = held
            _walk(held[0], nested)


_NESTED: dict[type[BaseModel], _Nested] = {}
_walk(Plan, _NESTED)


def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if not field.is_required():
            out[name] = to_jsonable_python(field.get_default(call_default_factory=True))
    return out


PLAN_DEFAULTS: dict[str, dict[str, Any]] = {m.__name__: _defaults(m) for m in _NESTED}
"""The default of every optional field of the plan's models, by model name, as JSON."""


def plan_record(plan: Plan) -> dict[str, Any]:
    """The ``plan`` and ``plan_defaults`` members of a record that holds ``plan``."""
    return {
        "plan": plan.model_dump(mode="json", exclude_unset=True),
        # A copy: a record's data is handed to listeners, and a constant is no one's to edit.
        "plan_defaults": copy.deepcopy(PLAN_DEFAULTS),
    }


def plan_from_record(data: Mapping[str, Any]) -> Plan:
    """The plan a record holds (see :func:`plan_record`), its defaults filled from the record.

    Raises ``ValueError`` (pydantic's ``ValidationError`` among them) when the record's plan
    is not a valid plan or its defaults are not shaped as :data:`PLAN_DEFAULTS`: a plan is
    never read back with defaults the writer did not pin."""
    plan = data["plan"]
    if "plan_defaults" in data:
        defaults = data["plan_defaults"]
        if not isinstance(defaults, dict) or not all(
            isinstance(defaults.get(name, {}), dict) for name in PLAN_DEFAULTS
        ):
            raise ValueError(
                "the record's plan_defaults is not a mapping of model names to field defaults"
            )
        plan = _fill(Plan, plan, defaults)
    return Plan.model_validate(plan)


def _fill(model: type[BaseModel], data: Any, defaults: Mapping[str, Any]) -> Any:
    """``data`` with every field it lacks taken from ``defaults``, nested models included.
    Anything that is not shaped like the model is left as it is, for validation to refuse."""
    if not isinstance(data, dict):
        return data
    own = defaults.get(model.__name__)
    out = {**own, **data} if isinstance(own, dict) else dict(data)
    for name, (sub, many) in _NESTED[model].items():
        value = out.get(name)
        if many and isinstance(value, list):
            out[name] = [_fill(sub, v, defaults) for v in value]
        elif not many and isinstance(value, dict):
            out[name] = _fill(sub, value, defaults)
    return out
