"""The run journal: every engine write goes through here, in one order, to the trace.

It appends to the trace writer, folds the record into the run state, lets the checkpoint
manager snapshot, and tells listeners (widgets, the CLI) — in that order, so nothing is shown
that is not in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sgr_kernel.engine.base import Clock, RecordListener
from sgr_kernel.errors import TraceError
from sgr_kernel.models.status import (
    STEP_TRANSITIONS,
    RunStatus,
    StepStatus,
    check_run_transition,
    check_step_transition,
)
from sgr_kernel.trace._format import commit_json, launch_json
from sgr_kernel.trace.base import Durability, Record, RecordType, TraceWriter, logged_record
from sgr_kernel.trace.state import RunState

__all__ = ["CheckpointHook", "MemoryWriter", "RunJournal"]

log = logging.getLogger(__name__)

# Read per record: as globals (an enum member read off its class costs ~100 ns on Python 3.11).
_STEP, _SYNC = RecordType.STEP, Durability.SYNC
_PENDING, _READY = StepStatus.PENDING, StepStatus.READY
_RUNNING, _COMMITTED = StepStatus.RUNNING, StepStatus.COMMITTED
_VIA_READY = (_READY,)

CheckpointHook = Callable[[RunState, int, "int | None"], int]
"""Called after an append with the folded state and the record's seq and crc; returns the seq
of the next record it must be called for (it is not called for those before)."""
_NEVER = 1 << 62


class MemoryWriter(TraceWriter):
    """A writer that keeps records in memory (strict-replay scratch runs, tests)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.durability = Durability.NONE
        self.records: list[Record] = []

    @property
    def next_seq(self) -> int:
        return len(self.records)

    def append(
        self,
        type: RecordType,
        data: Mapping[str, Any],
        *,
        step: str | None = None,
        ts: float,
        durable: bool = False,
    ) -> Record:
        rec = Record(seq=len(self.records), ts=ts, type=type, step=step, data=dict(data))
        self.records.append(rec)
        return rec

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass


class RunJournal:
    """Appends records for one run and keeps its :class:`RunState` in step with the log."""

    def __init__(
        self,
        writer: TraceWriter,
        state: RunState,
        clock: Clock,
        *,
        checkpoint: CheckpointHook | None = None,
    ) -> None:
        self.writer = writer
        self.state = state
        self.clock = clock
        self._checkpoint = checkpoint
        self._checkpoint_due = 0 if checkpoint is not None else _NEVER
        """The seq from which the checkpoint hook is called again (it says which)."""
        self._listeners: list[RecordListener] = []
        self._deferred: list[Record] = []
        self._flush_due = False
        self._held = False
        self._turn_ts: float | None = None
        """The wall time of the held turn's records (one clock read, one ``repr`` a turn)."""

    @property
    def run_id(self) -> str:
        return self.writer.run_id

    def subscribe(self, listener: RecordListener) -> Callable[[], None]:
        """Call ``listener`` with every record appended from now on; returns an unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def append(
        self,
        type: RecordType,
        data: Mapping[str, Any],
        *,
        step: str | None = None,
        durable: bool = False,
        deferred: bool = False,
        data_json: str | None = None,
    ) -> None:
        """Append a record. ``deferred``: listeners hear of it only after the next :meth:`sync`
        (a commit is shown only once it is durable). ``data_json``: see
        :meth:`TraceWriter.append_values`."""
        writer = self.writer
        ts = self._turn_ts
        if ts is None:
            ts = self.clock.now()
            if self._held:  # a held turn: its records carry the time it began writing
                self._turn_ts = ts
        seq, crc, logged = writer.append_values(
            type, data, step=step, ts=ts, durable=durable, data_json=data_json
        )
        if not self._flush_due and writer.pending:
            self._flush_at_turn_end()
        self.state.fold(type, step, logged, ts, seq)
        if seq >= self._checkpoint_due and self._checkpoint is not None:
            self._checkpoint_due = self._checkpoint(self.state, seq, crc)
        if self._listeners:  # a Record only for those who are shown one
            rec = logged_record(seq, ts, type, step, logged, crc)
            if deferred:
                self._deferred.append(rec)
            else:
                self.flush()
                self.publish(rec)

    def _flush_at_turn_end(self) -> None:
        """A writer without durability buffers. Outside a held turn (a skill's records) the
        write is a callback queued now, so it runs before any task started after this append:
        no step that depends on a buffered record runs before it is written (ADR 027)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: nothing else runs before the next line, write now
            self.writer.flush()
            return
        self._flush_due = True
        loop.call_soon(self._flush_queued)

    def _flush_queued(self) -> None:
        self._flush_due = False
        try:
            self.writer.flush()
        except TraceError:
            # The writer keeps the failure and refuses the next append, which raises into
            # the run; a callback has nobody to raise to.
            log.exception("run %s: writing buffered records failed", self.run_id)

    def hold(self) -> None:
        """The caller runs until it calls :meth:`release` without yielding to the loop (the
        scheduler, during its turn): appends need not queue a flush, ``release`` writes. The
        records of a held turn carry one timestamp, the wall time of its first record."""
        self._flush_due = self._held = True
        self._turn_ts = None

    def release(self) -> None:
        """Write what the held turn appended; appends queue their flush again from here."""
        self._flush_due = self._held = False
        self._turn_ts = None
        self.flush()

    def flush(self) -> None:
        """Write buffered records now (before they are shown or read)."""
        self.writer.flush()  # a no-op when nothing waits

    def publish(self, rec: Record) -> None:
        """Hand a record to the listeners (also used for live events that are not logged)."""
        for listener in tuple(self._listeners):
            try:
                listener(rec)
            except Exception:  # a broken display must never break the run
                log.exception("record listener failed")

    def sync(self) -> None:
        """The commit barrier: make appended records as durable as the run's mode promises
        (``sync``: fsync now; ``batch``: the writer's group commit decides; ``none``: written
        by the end of this loop turn), then publish the deferred ones."""
        if self.writer.durability is _SYNC:
            self.writer.sync()
        if self._deferred:
            deferred, self._deferred = self._deferred, []
            if self._listeners:
                self.flush()  # nothing is shown that is not in the log
                for rec in deferred:
                    self.publish(rec)

    def run_status(self, target: RunStatus, reason: str | None = None) -> None:
        """Move the run to ``target`` (checked against the table), durably."""
        check_run_transition(self.state.status, target, f"(run {self.run_id})")
        self.append(RecordType.RUN_STATUS, {"status": target.value, "reason": reason}, durable=True)

    def step_status(
        self,
        step_id: str,
        target: StepStatus,
        *,
        via: tuple[StepStatus, ...] = (),
        durable: bool = False,
        deferred: bool = False,
        **data: Any,
    ) -> None:
        """Move a step to ``target``, through the states in ``via`` (each hop checked)."""
        self._check_hops(step_id, target, via)
        # ``_value_``: the plain string, without the enum's ``value`` descriptor (hot path).
        payload = {"status": target._value_, **data}
        self.append(_STEP, payload, step=step_id, durable=durable, deferred=deferred)

    def step_launched(
        self, step_id: str, attempt: int, elapsed_s: float, *, via: tuple[StepStatus, ...] = ()
    ) -> None:
        """``step_status(step_id, RUNNING, via=via, attempt=attempt, elapsed_s=elapsed_s)``,
        the record encoded from a template (the scheduler's launch: a hot path)."""
        st = self.state.steps.get(step_id)
        status = None if st is None else st.status
        # The scheduler's two ways to a launch, checked inline; any other goes to the table.
        if not ((status is _READY and not via) or (status is _PENDING and via == _VIA_READY)):
            self._check_hops(step_id, _RUNNING, via)
        payload = {"status": "RUNNING", "attempt": attempt, "elapsed_s": elapsed_s}
        self.append(_STEP, payload, step=step_id, data_json=launch_json(attempt, elapsed_s))

    def step_committed(
        self, step_id: str, attempt: int, output: Any, *, deferred: bool = False
    ) -> None:
        """``step_status(step_id, COMMITTED, attempt=attempt, output=output)``, the record
        encoded from a template (the scheduler's commit: a hot path)."""
        st = self.state.steps.get(step_id)
        if st is None or st.status is not _RUNNING:  # RUNNING -> COMMITTED needs no table
            self._check_hops(step_id, _COMMITTED, ())
        payload = {"status": "COMMITTED", "attempt": attempt, "output": output}
        text = commit_json(attempt, output)
        self.append(_STEP, payload, step=step_id, deferred=deferred, data_json=text)

    def _check_hops(self, step_id: str, target: StepStatus, via: tuple[StepStatus, ...]) -> None:
        st = self.state.steps.get(step_id)
        current = StepStatus.PENDING if st is None else st.status
        for hop in (*via, target) if via else (target,):
            if hop not in STEP_TRANSITIONS[current]:  # the table's check, inline: a hot path
                check_step_transition(current, hop, f"(step {step_id!r})")
            current = hop
