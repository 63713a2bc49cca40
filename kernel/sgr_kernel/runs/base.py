"""The runs API's values and constants: what the CLI, the magics and the server render.

Every face shows runs through :class:`sgr_kernel.runs.Runs`; what crosses to them is one of
the frozen values below, never a kernel object or a dict shaped by the face. The constants
here are the only copies: the inline-media allowlist, what counts as an internal step, and
(re-exported from the trace store, which owns them) the run-id pattern and the store root.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.engine.kernel import Delivery
from sgr_kernel.models.status import RunStatus, StepStatus
from sgr_kernel.trace.base import RUN_ID_PATTERN, default_root, validate_run_id
from sgr_kernel.trace.state import PLAN_STEP
from sgr_kernel.trace.view import RequestTrace, UsageView

__all__ = [
    "INLINE_MEDIA_TYPES",
    "RUN_ID_PATTERN",
    "Artifact",
    "Delivery",
    "Live",
    "RunDetail",
    "RunReport",
    "RunSummary",
    "Steered",
    "StepLine",
    "default_root",
    "is_inline",
    "is_internal_step",
    "validate_run_id",
]

INLINE_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "video/mp4"})
"""Media types a face may show inline: raster images and MP4 video, which a browser cannot
run. Anything else written by sandboxed code (HTML, SVG, scripts) could run with the
notebook's or the server's origin, so it is only ever a download or a name."""

Live = Literal["here", "elsewhere"]
"""Where a run is being written: by this process, or by another one (a notebook kernel)."""


def is_inline(media_type: str) -> bool:
    """Whether an artifact of ``media_type`` may be shown inline (see INLINE_MEDIA_TYPES)."""
    return media_type.split(";", 1)[0].strip().lower() in INLINE_MEDIA_TYPES


def is_internal_step(step_id: str) -> bool:
    """Steps the kernel adds for itself (the planner): never counted as the user's steps."""
    return step_id == PLAN_STEP or (step_id.startswith("__") and step_id.endswith("__"))


class RunSummary(BaseModel):
    """One row of a runs list: the one shape the CLI, the magics and the side panel show."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    name: str
    status: RunStatus
    reason: str | None = Field(None, description="Why it stopped, failed or was aborted.")
    started_at: float | None = Field(None, description="When it was created (epoch seconds).")
    duration_s: float | None = Field(
        None, description="Seconds from creation to its end; None while it has not ended."
    )
    created_ts: float | None = Field(None, description="Same as started_at (wire name).")
    ended_ts: float | None = Field(None, description="When it ended, if it has.")
    steps_total: int = Field(0, description="Steps of the plan (internal steps not counted).")
    steps_committed: int = Field(0, description="Plan steps that committed.")
    steps_done: int = Field(0, description="Plan steps that reached a terminal state.")
    waiting: list[str] = Field(
        default_factory=list, description="Steps waiting for an approval not yet given."
    )
    live: Live | None = Field(
        None, description="'here' (this process drives it), 'elsewhere' (another), None."
    )
    holder: str | None = Field(None, description="The writer ('pid=… host=…') if elsewhere.")
    tokens: int = 0
    cost_usd: float = 0.0
    parent: dict[str, Any] | None = Field(None, description="The run it was forked from.")


class StepLine(BaseModel):
    """One step in a run report: enough for a line of text."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: StepStatus
    attempts: int
    error: str | None = None


class RunReport(BaseModel):
    """How a run stands after a command drove it (``sgr run --json`` and ``%%sgr --wait``)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    status: RunStatus
    reason: str | None = None
    steps: list[StepLine] = Field(default_factory=list, description="Every step, planner too.")
    outputs: dict[str, Any] = Field(
        default_factory=dict, description="Outputs of the plan's committed steps by step id."
    )
    usage: UsageView = Field(default_factory=UsageView)
    summary: RunSummary


class Artifact(BaseModel):
    """A file a step's output names, with whether a face may show it inline."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    name: str
    media_type: str = "application/octet-stream"
    size: int | None = None
    step: str = Field(description="The step whose output names it.")
    inline: bool = Field(description="An allowlisted image or video: may be shown inline.")


class RunDetail(BaseModel):
    """One run for a detail pane: its summary, trace view and DAG as Mermaid text."""

    model_config = ConfigDict(frozen=True)

    summary: RunSummary
    view: RequestTrace
    mermaid: str | None = Field(None, description="None until the run has a plan.")
    artifacts: list[Artifact] = Field(
        default_factory=list,
        description="What the step outputs name, each with its step and whether a face may "
        "show it inline: faces use these, never their own discovery or media-type list.",
    )
    streams: dict[str, str] = Field(
        default_factory=dict,
        description="While the run is live (here or elsewhere): the end of what the model is "
        "streaming for each running step (planning under '__plan__').",
    )


class Steered(RunSummary):
    """What a steering call did: the run's summary after it, and where the request went."""

    delivered: Delivery = Field(
        description="'live' (the engine in this process took it), 'recorded' (written into a "
        "stopped run's log; resume applies it), 'posted' (to the inbox of a run live elsewhere)."
    )
    applied: bool = Field(
        description="The run took it: False only when a posted request was not yet recorded "
        "by the process that runs it when the wait ran out (it stays posted)."
    )

    @property
    def resumable(self) -> bool:
        """Stopped, not finished, and written by no process: ``resume`` can continue it here."""
        return not self.status.terminal and self.live is None
