"""The plan: a DAG of skill steps, as written by the planner or by the user."""

from __future__ import annotations

import json
import stat
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sgr_kernel.errors import PlanParseError, PlanValidationError, SgrUsageError
from sgr_kernel.models._yaml import load_yaml
from sgr_kernel.models.policies import BudgetPolicy, RetryPolicy
from sgr_kernel.safety import MAX_DEPTH, check_shape, clip

__all__ = [
    "MAX_PLAN_BYTES",
    "Placement",
    "Plan",
    "StepSpec",
    "check_task",
    "load_plan_data",
    "parse_plan",
    "plan_from_data",
    "read_plan_file",
]

MAX_PLAN_BYTES = 4 * 1024 * 1024
"""A plan text larger than this is refused before parsing."""

MAX_STEPS = 1000
"""The most steps one plan may hold."""

MAX_TIMEOUT_S = 7 * 24 * 3600.0
"""The longest deadline a step (or a run's default) may have."""

STEP_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"


class Placement(StrEnum):
    """Where a step's skill runs: in the kernel process, in the sandbox, or on a remote worker."""

    LOCAL = "local"
    SANDBOX = "sandbox"
    REMOTE = "remote"


class StepSpec(BaseModel):
    """One step of a plan."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str = Field(pattern=STEP_ID_PATTERN, description="Unique within the plan.")
    skill: str = Field(min_length=1, description="Name of a registered skill.")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Values, or references to upstream outputs."
    )
    depends_on: tuple[str, ...] = Field((), description="Steps that must commit first.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Retry policy.")
    timeout_s: float | None = Field(
        None, gt=0, le=MAX_TIMEOUT_S, description="Deadline per attempt (at most 7 days)."
    )
    idempotent: bool | None = Field(None, description="Overrides the skill's own flag.")
    requires_approval: bool = Field(False, description="Wait for a human before running.")
    capabilities: tuple[str, ...] = Field(
        (), max_length=16, description="Capabilities granted to this step."
    )
    placement: Placement | None = Field(None, description="Overrides the skill's placement.")
    resources: dict[str, float | int | str] = Field(
        default_factory=dict, description="Remote resources, e.g. {'GPU': 1}."
    )


class Plan(BaseModel):
    """A validated-shape DAG of steps. Semantic checks live in ``sgr_kernel.graph``."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str = Field("plan", max_length=200)
    budget: BudgetPolicy = Field(default_factory=BudgetPolicy)
    steps: tuple[StepSpec, ...] = Field(min_length=1, max_length=MAX_STEPS)

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
        check_shape(data, json_only=True)
    except ValueError as e:
        raise PlanParseError(f"{source}: {e}") from None
    try:
        return Plan.model_validate(data)
    except ValidationError as e:
        problems = [f"{_format_loc(err['loc'], data)}: {err['msg']}" for err in e.errors()]
        raise PlanValidationError(problems) from None


def parse_plan(text: str, source: str = "plan") -> Plan:
    """Parse a YAML or JSON plan text. Errors name the file, the line and what to fix.

    Size, nesting depth and alias expansion are bounded before any value is built; a key
    written twice and a number that is not finite are refused.
    """
    return plan_from_data(load_plan_data(text, source), source)


def load_plan_data(text: str, source: str = "plan") -> Any:
    """The plan text parsed to plain data (bounded as :func:`parse_plan` says), not yet a
    :class:`Plan`: callers that fill in values (the ``%%sgr`` cell) do it on this data."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PLAN_BYTES:
        raise PlanParseError(
            f"{source}: {size} bytes is over the {MAX_PLAN_BYTES} byte limit; "
            "pass large data by reference (a file path), not inline"
        )
    if "\x00" in text:
        raise PlanParseError(f"{source}: holds NUL characters; a plan is UTF-8 text")
    try:
        if text.lstrip().startswith("{"):
            data = json.loads(text, object_pairs_hook=_unique_keys)
        else:
            data = load_yaml(text)
    except json.JSONDecodeError as e:
        raise PlanParseError(f"{source}: not valid JSON at line {e.lineno}: {e.msg}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise PlanParseError(f"{source}: not valid YAML{where}: {clip(problem, 200)}") from None
    except RecursionError:
        raise PlanParseError(f"{source}: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:  # ShapeError, DuplicateKeyError, an integer past the digit limit
        raise PlanParseError(f"{source}: {clip(str(e), 200)}") from None
    return data


MAX_TASK_CHARS = 100_000
"""The longest task text handed to the planner."""


def check_task(task: str) -> None:
    """Refuse a task that is empty, too long or not text, before it reaches the model."""
    if not isinstance(task, str) or not task.strip():
        raise SgrUsageError("the task is empty; describe what the run should do")
    if len(task) > MAX_TASK_CHARS:
        raise SgrUsageError(
            f"the task is {len(task)} characters, over the {MAX_TASK_CHARS} limit; "
            "put large data in a file and name the file in the task"
        )
    if "\x00" in task:
        raise SgrUsageError("the task holds NUL characters; a task is plain text")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {clip(k, 60)!r} is written twice in one object")
        out[k] = v
    return out


def read_plan_file(path: Path) -> Plan:
    """Read and parse a plan file: size checked before reading, UTF-8 required."""
    try:
        info = path.stat()
    except OSError as e:
        raise PlanParseError(f"{path}: cannot read it ({e.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise PlanParseError(f"{path}: not a regular file; give a YAML or JSON plan file")
    if info.st_size > MAX_PLAN_BYTES:
        raise PlanParseError(
            f"{path}: {info.st_size} bytes is over the {MAX_PLAN_BYTES} byte limit; "
            "pass large data by reference (a file path), not inline"
        )
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_PLAN_BYTES + 1)
    except OSError as e:
        raise PlanParseError(f"{path}: cannot read it ({e.strerror})") from None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise PlanParseError(f"{path}: is UTF-16; save the plan as UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise PlanParseError(
            f"{path}: not UTF-8 text (bad byte at offset {e.start}); save the plan as UTF-8"
        ) from None
    return parse_plan(text, source=str(path))
