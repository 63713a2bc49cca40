"""The skills contract: what a skill declares, and the context it runs with (docs/architecture.md).

A skill is a class with a name, a description (shown to the planner), pydantic input and
output models, declared capabilities, placement and an idempotency flag. ``run(ctx, inputs)``
returns the output model. Skills reach the outside world only through ``ctx``: time,
randomness, ids, model calls, sandbox runs, HTTP and remote jobs are recorded there so the
run can be resumed and replayed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.llm.base import LLMRequest, LLMResponse, Message
from sgr_kernel.models.plan import Placement
from sgr_kernel.sandbox.base import ExecResult
from sgr_kernel.trace.base import ArtifactRef

__all__ = [
    "CAP_LLM",
    "CAP_NETWORK",
    "CAP_REMOTE",
    "CAP_SANDBOX",
    "DEFAULT_GRANTS",
    "KNOWN_CAPABILITIES",
    "Estimate",
    "HttpResponse",
    "Skill",
    "SkillContext",
    "effective_capabilities",
    "result_fields",
]

M = TypeVar("M", bound=BaseModel)

CAP_LLM = "llm"
CAP_SANDBOX = "sandbox"
CAP_NETWORK = "network"
CAP_REMOTE = "remote"
DEFAULT_GRANTS = frozenset({CAP_LLM, CAP_SANDBOX})
"""Capabilities a run grants unless narrowed; others must be granted. A step still gets only
those of them its skill declares (:func:`effective_capabilities`)."""
KNOWN_CAPABILITIES = frozenset({CAP_LLM, CAP_SANDBOX, CAP_NETWORK, CAP_REMOTE})
"""Every capability name; any other name in a plan or a run's grants is an error."""


class Estimate(BaseModel):
    """A skill's up-front guess of what one attempt costs, for budget checks before a run."""

    model_config = ConfigDict(frozen=True)

    tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0)
    llm_calls: int = Field(0, ge=0)


class HttpResponse(BaseModel):
    """A recorded HTTP answer."""

    model_config = ConfigDict(frozen=True)

    status: int
    headers: dict[str, str]
    body: str


class SkillContext(Protocol):
    """The only door from a skill to the outside. Everything it answers is recorded."""

    @property
    def run_id(self) -> str: ...

    @property
    def step_id(self) -> str: ...

    @property
    def attempt(self) -> int: ...

    def now(self) -> float:
        """Wall time in seconds since the epoch (recorded; replayed)."""
        ...

    def random(self) -> float:
        """A float in [0, 1) (recorded; replayed)."""
        ...

    def new_id(self) -> str:
        """A fresh unique id (recorded; replayed)."""
        ...

    async def llm(self, request: LLMRequest) -> LLMResponse:
        """One raw model call: budget-checked, breaker-guarded, recorded."""
        ...

    async def generate(
        self, output: type[M], messages: Sequence[Message], *, max_repairs: int = 2
    ) -> M:
        """Schema-guided generation of ``output`` with a bounded repair loop."""
        ...

    async def sandbox(self, code: str, *, timeout_s: float | None = None) -> ExecResult:
        """Run code in the run's sandbox session (state persists across calls)."""
        ...

    async def http(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: str | None = None,
        timeout_s: float = 30.0,
    ) -> HttpResponse:
        """An HTTP request (needs the ``network`` capability)."""
        ...

    async def remote(
        self,
        job_type: str,
        params: dict[str, Any],
        *,
        resources: dict[str, float | int | str] | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """A remote job through the dispatcher (needs the ``remote`` capability)."""
        ...

    def put_artifact(
        self, data: bytes, *, name: str, media_type: str = "application/octet-stream"
    ) -> ArtifactRef:
        """Store bytes in the run's content-addressed artifact store."""
        ...

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        """A live progress event for the UI (streamed tokens, output). Not replayed."""
        ...


class Skill(ABC):
    """Base class of every skill. Subclasses set the class attributes and ``run``."""

    name: ClassVar[str]
    description: ClassVar[str]
    Input: ClassVar[type[BaseModel]]
    Output: ClassVar[type[BaseModel]]
    capabilities: ClassVar[frozenset[str]] = frozenset()
    placement: ClassVar[Placement] = Placement.LOCAL
    idempotent: ClassVar[bool] = True
    isolation: ClassVar[Literal["async", "process"]] = "async"
    """``process``: the engine runs :meth:`run_blocking` in a child process it can kill."""
    planned_attempts: ClassVar[int] = 1
    """Attempts the planner gives a step of this skill (a retryable failure, such as an
    empty model answer, is then retried once more before the run fails)."""
    needs_reference: ClassVar[bool] = False
    """In a *planned* plan of several steps, the step must use an earlier step's output
    (``format``: a template that refers to nothing means the planner wrote the answer
    itself). Plans written by people are not held to it."""
    cues: ClassVar[tuple[str, ...]] = ()
    """Regular expressions (case-insensitive) that, found in a user's task, mean the task
    needs this skill: the planner then offers a shape that runs it, the model filling only
    its inputs (docs/llm.md, "Skill shapes"). Empty: the skill is planned only as a step."""

    def estimate(self, inputs: dict[str, Any]) -> Estimate:
        """Expected cost of one attempt; the default is free."""
        return Estimate()

    @abstractmethod
    async def run(self, ctx: SkillContext, inputs: Any) -> BaseModel:
        """Do the work. ``inputs`` is an instance of ``Input``; return an ``Output``."""

    def run_blocking(self, inputs: Any) -> BaseModel:
        """For ``isolation = "process"``: pure blocking work, no context, in a child process."""
        raise NotImplementedError(f"skill {self.name!r} does not run blocking work")

    @classmethod
    def catalogue_entry(cls) -> dict[str, Any]:
        """What the planner is shown about this skill."""
        entry: dict[str, Any] = {
            "name": cls.name,
            "description": cls.description,
            "inputs": cls.Input.model_json_schema(),
            "outputs": sorted(cls.Output.model_fields),
        }
        if cls.needs_reference:
            entry["needs_reference"] = True
        if cls.planned_attempts > 1:
            entry["planned_attempts"] = cls.planned_attempts
        if cls.cues:
            entry["cues"] = list(cls.cues)
            entry["capabilities"] = sorted(cls.capabilities)
            entry["result_fields"] = result_fields(cls.Output)
        return entry


def result_fields(output: type[BaseModel]) -> list[str]:
    """Output fields an explanation of a result reads: scalars and records, not lists, maps
    or artifacts (they can be long; the explanation is a model's prompt)."""
    props = output.model_json_schema().get("properties") or {}
    out = []
    for name, schema in props.items():
        kinds = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
        small = all(
            "$ref" in s or s.get("type") in ("string", "number", "integer", "boolean")
            for s in kinds
        )
        if kinds and small and name != "artifacts":
            out.append(name)
    return sorted(out)


class _Declares(Protocol):
    capabilities: ClassVar[frozenset[str]]


class _Grants(Protocol):
    @property
    def capabilities(self) -> tuple[str, ...]: ...


def effective_capabilities(
    skill: type[_Declares], step: _Grants, grants: frozenset[str]
) -> frozenset[str]:
    """What one step may use: its skill's declaration, narrowed to the run's and step's grants."""
    return frozenset(skill.capabilities) & (frozenset(grants) | frozenset(step.capabilities))
