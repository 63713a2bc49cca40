"""Pure functions from a run's folded state or view to the runs API's values."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from sgr_kernel.models.status import StepStatus
from sgr_kernel.runs.base import (
    Artifact,
    Live,
    RunReport,
    RunSummary,
    StepLine,
    is_inline,
    is_internal_step,
)
from sgr_kernel.trace.state import RunState
from sgr_kernel.trace.view import RequestTrace

__all__ = ["artifacts_in", "artifacts_of", "report_of", "summary_of"]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_OCTET = "application/octet-stream"


def summary_of(
    state: RunState, *, live: Live | None = None, holder: str | None = None
) -> RunSummary:
    """The summary row of a run as its log tells it."""
    user = [s for k, s in state.steps.items() if not is_internal_step(k)]
    ended = state.ended_ts if state.status.terminal else None
    duration = None
    if ended is not None and state.created_ts is not None:
        duration = max(0.0, ended - state.created_ts)
    return RunSummary(
        run_id=state.run_id,
        name=state.name,
        status=state.status,
        reason=state.reason,
        started_at=state.created_ts,
        duration_s=duration,
        created_ts=state.created_ts,
        ended_ts=state.ended_ts,
        steps_total=len(state.plan.steps) if state.plan else 0,
        steps_committed=sum(1 for s in user if s.status is StepStatus.COMMITTED),
        steps_done=sum(1 for s in user if s.status.terminal),
        waiting=[
            k
            for k, s in state.steps.items()
            if s.status is StepStatus.WAITING_APPROVAL and s.approval is None
        ],
        live=live,
        holder=holder,
        tokens=state.usage.tokens,
        cost_usd=state.usage.cost_usd,
        parent=state.parent,
    )


def report_of(view: RequestTrace, summary: RunSummary) -> RunReport:
    """A run's report: every step's line, the plan's outputs, the usage."""
    return RunReport(
        run_id=view.run_id,
        status=view.status,
        reason=view.reason,
        steps=[
            StepLine(id=s.id, status=s.status, attempts=s.attempts, error=s.error)
            for s in view.steps
        ],
        outputs={
            s.id: s.output
            for s in view.steps
            if s.output is not None and not is_internal_step(s.id)
        },
        usage=view.usage,
        summary=summary,
    )


def artifacts_of(view: RequestTrace, step: str | None = None) -> list[Artifact]:
    """Every artifact the steps' outputs name, once each, in step order (only ``step``'s
    when given)."""
    seen: set[str] = set()
    out: list[Artifact] = []
    for s in view.steps:
        if step is not None and s.id != step:
            continue
        for art in artifacts_in(s.id, s.output):
            if art.sha256 not in seen:
                seen.add(art.sha256)
                out.append(art)
    return out


def artifacts_in(step: str, output: Mapping[str, Any] | None) -> list[Artifact]:
    """The artifacts one step output names: ``ArtifactRef``-shaped dicts at any depth."""
    out: list[Artifact] = []
    for ref in _refs(output):
        sha = ref["sha256"]
        if not _SHA256.fullmatch(sha):
            continue
        media = str(ref.get("media_type") or _OCTET)
        size = ref.get("size")
        out.append(
            Artifact(
                sha256=sha,
                name=str(ref.get("name") or sha),
                media_type=media,
                size=size if isinstance(size, int) else None,
                step=step,
                inline=is_inline(media),
            )
        )
    return out


def _refs(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, Mapping):
        if isinstance(value.get("sha256"), str) and "media_type" in value:
            yield dict(value)
        for v in value.values():
            yield from _refs(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _refs(v)
