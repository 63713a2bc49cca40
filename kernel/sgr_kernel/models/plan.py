"""The plan: a DAG of skill steps, as written by the planner or by the user (DESIGN §3.1)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sgr_kernel.errors import PlanParseError, PlanValidationError
from sgr_kernel.models.policies import BudgetPolicy, RetryPolicy

__all__ = ["MAX_PLAN_BYTES", "Placement", "Plan", "StepSpec", "parse_plan"]

MAX_PLAN_BYTES = 4 * 1024 * 1024
"""A plan text larger than this is refused before parsing."""

STEP_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"


class Placement(StrEnum):
    """Where a step's skill runs: in the kernel process, in the sandbox, or on a remote worker."""

    LOCAL = "local"
    SANDBOX = "sandbox"
    REMOTE = "remote"


class StepSpec(BaseModel):
    """One step of a plan."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=STEP_ID_PATTERN, description="Unique within the plan.")
    skill: str = Field(min_length=1, description="Name of a registered skill.")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Values, or references to upstream outputs."
    )
    depends_on: tuple[str, ...] = Field((), description="Steps that must commit first.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Retry policy.")
    timeout_s: float | None = Field(None, gt=0, description="Deadline per attempt.")
    idempotent: bool | None = Field(None, description="Overrides the skill's own flag.")
    requires_approval: bool = Field(False, description="Wait for a human before running.")
    capabilities: tuple[str, ...] = Field((), description="Capabilities granted to this step.")
    placement: Placement | None = Field(None, description="Overrides the skill's placement.")
    resources: dict[str, float | int | str] = Field(
        default_factory=dict, description="Remote resources, e.g. {'GPU': 1}."
    )


class Plan(BaseModel):
    """A validated-shape DAG of steps. Semantic checks live in ``sgr_kernel.graph``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("plan", max_length=200)
    budget: BudgetPolicy = Field(default_factory=BudgetPolicy)
    steps: tuple[StepSpec, ...] = Field(min_length=1)

    def step(self, step_id: str) -> StepSpec:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    @property
    def step_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.steps)


def _format_loc(loc: tuple[int | str, ...], data: Any) -> str:
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and 0 <= item < len(node):
            node = node[item]
            sid = node.get("id") if isinstance(node, dict) else None
            parts.append(f"[{item}]" + (f"(id={sid})" if sid else ""))
        else:
            node = node.get(item) if isinstance(node, dict) else None
            parts.append(f".{item}")
    return "".join(parts).lstrip(".") or "plan"


def plan_from_data(data: Any, source: str = "plan") -> Plan:
    """Build a :class:`Plan` from parsed data, listing every schema problem at once."""
    if not isinstance(data, dict):
        raise PlanParseError(
            f"{source}: the top level must be a mapping with 'steps', got {type(data).__name__}"
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as e:
        problems = [f"{_format_loc(err['loc'], data)}: {err['msg']}" for err in e.errors()]
        raise PlanValidationError(problems) from None


def parse_plan(text: str, source: str = "plan") -> Plan:
    """Parse a YAML or JSON plan text. Errors name the file, the line and what to fix."""
    if len(text.encode()) > MAX_PLAN_BYTES:
        raise PlanParseError(
            f"{source}: {len(text.encode())} bytes is over the {MAX_PLAN_BYTES} byte limit; "
            "pass large data by reference (a file path), not inline"
        )
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise PlanParseError(f"{source}: not valid JSON at line {e.lineno}: {e.msg}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise PlanParseError(f"{source}: not valid YAML{where}: {problem}") from None
    return plan_from_data(data, source)
