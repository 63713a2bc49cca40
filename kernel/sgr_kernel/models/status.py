"""Run and step states, and the one transition table that governs them (docs/architecture.md)."""

from __future__ import annotations

from enum import StrEnum

from sgr_kernel.errors import IllegalTransitionError

__all__ = [
    "RUN_TRANSITIONS",
    "STEP_TRANSITIONS",
    "RunStatus",
    "StepStatus",
    "check_run_transition",
    "check_step_transition",
]


class RunStatus(StrEnum):
    """Where a run is. ``ABORTED`` is a budget or policy stop. ``INTERRUPTED``: its process
    was stopped (a signal, a kernel restart or shutdown) — not an outcome; ``resume`` continues
    it exactly as after a crash."""

    CREATED = "CREATED"
    PLANNING = "PLANNING"
    PLANNED = "PLANNED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    INTERRUPTED = "INTERRUPTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    ABORTED = "ABORTED"

    @property
    def terminal(self) -> bool:
        return self in _RUN_TERMINAL


class StepStatus(StrEnum):
    """Where a step is. ``COMMITTED`` means its output is durable in the trace."""

    PENDING = "PENDING"
    READY = "READY"
    WAITING_APPROVAL = "WAITING_APPROVAL"
    RUNNING = "RUNNING"
    RETRY_WAIT = "RETRY_WAIT"
    COMMITTED = "COMMITTED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in _STEP_TERMINAL


_RUN_TERMINAL = frozenset(
    {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.ABORTED}
)
_STEP_TERMINAL = frozenset(
    {StepStatus.COMMITTED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED}
)

R, S = RunStatus, StepStatus

_STOPS = frozenset({R.FAILED, R.CANCELLED, R.ABORTED, R.INTERRUPTED})

RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    R.CREATED: frozenset({R.PLANNING, R.PLANNED}) | _STOPS,
    R.PLANNING: frozenset({R.PLANNED}) | _STOPS,
    R.PLANNED: frozenset({R.RUNNING}) | _STOPS,
    R.RUNNING: frozenset({R.PAUSED, R.COMPLETED}) | _STOPS,
    R.PAUSED: frozenset({R.RUNNING}) | _STOPS,
    R.INTERRUPTED: frozenset({R.PLANNING, R.PLANNED, R.RUNNING}) | _STOPS - {R.INTERRUPTED},
    R.COMPLETED: frozenset(),
    R.FAILED: frozenset(),
    R.CANCELLED: frozenset(),
    R.ABORTED: frozenset(),
}
"""Allowed run transitions: ``RUN_TRANSITIONS[current]`` is the set of legal next states."""

STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    S.PENDING: frozenset({S.READY, S.SKIPPED, S.CANCELLED}),
    S.READY: frozenset({S.RUNNING, S.WAITING_APPROVAL, S.CANCELLED}),
    S.WAITING_APPROVAL: frozenset({S.READY, S.FAILED, S.CANCELLED}),
    S.RUNNING: frozenset({S.COMMITTED, S.FAILED, S.RETRY_WAIT, S.CANCELLED}),
    S.RETRY_WAIT: frozenset({S.READY, S.CANCELLED}),
    S.COMMITTED: frozenset(),
    S.FAILED: frozenset(),
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset(),
}
"""Allowed step transitions: ``STEP_TRANSITIONS[current]`` is the set of legal next states."""


def check_run_transition(current: RunStatus, target: RunStatus, subject: str = "") -> None:
    """Raise :class:`IllegalTransitionError` unless ``current -> target`` is in the table."""
    if target not in RUN_TRANSITIONS[current]:
        raise IllegalTransitionError("run", current, target, subject)


def check_step_transition(current: StepStatus, target: StepStatus, subject: str = "") -> None:
    """Raise :class:`IllegalTransitionError` unless ``current -> target`` is in the table."""
    if target not in STEP_TRANSITIONS[current]:
        raise IllegalTransitionError("step", current, target, subject)
