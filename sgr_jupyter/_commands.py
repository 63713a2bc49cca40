"""The typed commands that ``%%sgr`` / ``%sgr`` lines parse into (frozen values)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sgr_jupyter._context import ContextSpec
from sgr_jupyter.config import ApprovalMode, DurabilityName

__all__ = [
    "ApprovalMode",
    "ApproveCmd",
    "CancelCmd",
    "CellCmd",
    "ClusterCmd",
    "Command",
    "ConfigCmd",
    "DenyCmd",
    "DoctorCmd",
    "DurabilityName",
    "ForkCmd",
    "ModelsCmd",
    "ReplayCmd",
    "ResumeCmd",
    "RunOptions",
    "RunsCmd",
    "SandboxCmd",
    "ShowCmd",
    "SkillsCmd",
]


@dataclass(frozen=True)
class RunOptions:
    """Options shared by commands that start or continue a run."""

    wait: bool = False
    out: str | None = None
    format: Literal["markdown", "text", "json"] = "markdown"
    """How the final answer is shown in the cell and bound by ``out``."""


@dataclass(frozen=True)
class CellCmd:
    """``%%sgr``: run the cell as a task (or, with ``plan``, as a YAML/JSON plan)."""

    body: str
    plan: bool = False
    name: str | None = None
    provider: str | None = None
    model: str | None = None
    approval: ApprovalMode | None = None
    durability: DurabilityName | None = None
    budget: Mapping[str, float | int] = field(default_factory=dict)
    opts: RunOptions = RunOptions()
    context: ContextSpec | None = None
    """Earlier cells whose inputs and outputs are given to the task (``--context``)."""


@dataclass(frozen=True)
class RunsCmd:
    limit: int = 20


@dataclass(frozen=True)
class ShowCmd:
    run_id: str


@dataclass(frozen=True)
class ResumeCmd:
    run_id: str
    opts: RunOptions = RunOptions()


@dataclass(frozen=True)
class ReplayCmd:
    run_id: str


@dataclass(frozen=True)
class ForkCmd:
    run_id: str
    from_step: str
    inputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    opts: RunOptions = RunOptions()


@dataclass(frozen=True)
class ApproveCmd:
    run_id: str
    step_id: str
    by: str = "user"


@dataclass(frozen=True)
class DenyCmd:
    run_id: str
    step_id: str
    reason: str = ""


@dataclass(frozen=True)
class CancelCmd:
    run_id: str


@dataclass(frozen=True)
class ConfigCmd:
    pass


@dataclass(frozen=True)
class SandboxCmd:
    action: Literal["status", "build", "prune"] = "status"


@dataclass(frozen=True)
class DoctorCmd:
    pass


@dataclass(frozen=True)
class ModelsCmd:
    check: bool = False
    """Also check that each GGUF file loads (slow: one child process per file)."""


@dataclass(frozen=True)
class SkillsCmd:
    pass


@dataclass(frozen=True)
class ClusterCmd:
    """``%sgr cluster [show|jobs|local N|connect ADDR|cancel KEY_OR_RUN]``."""

    action: Literal["show", "jobs", "local", "connect", "cancel"] = "show"
    workers: int = 2
    target: str | None = None


Command = (
    RunsCmd
    | ShowCmd
    | ResumeCmd
    | ReplayCmd
    | ForkCmd
    | ApproveCmd
    | DenyCmd
    | CancelCmd
    | ConfigCmd
    | SandboxCmd
    | ClusterCmd
    | DoctorCmd
    | ModelsCmd
    | SkillsCmd
)
