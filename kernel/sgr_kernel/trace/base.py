"""The trace-store contract: records, durability, and the writer/store interfaces (docs/trace.md).

A run's trace is an append-only log of :class:`Record` values. The store decides how they are
laid out (``wal.py``: one JSONL file per run with chained CRCs); everything above it sees only
this contract, and every backend passes ``sgr_kernel.testing.trace_conformance``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel._home import default_root
from sgr_kernel.errors import InvalidRunIdError

if TYPE_CHECKING:
    from sgr_kernel.trace._fileio import FileIO

__all__ = [
    "RUN_ID_PATTERN",
    "TRACE_VERSION",
    "ArtifactRef",
    "Durability",
    "Record",
    "RecordType",
    "RecoveryReport",
    "TraceLog",
    "TraceStore",
    "TraceWriter",
    "default_root",
    "logged_record",
    "validate_run_id",
]

TRACE_VERSION = 1
"""Schema version written into every record as ``v``."""

RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
"""What a run id may look like (it names a directory): the one pattern every face checks."""
_RUN_ID = re.compile(RUN_ID_PATTERN)


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` if it can safely name a directory, else raise InvalidRunIdError."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise InvalidRunIdError(str(run_id))
    return run_id


class RecordType(StrEnum):
    """What a record says. The fold in ``trace/state.py`` gives each its meaning."""

    RUN_CREATED = "run_created"  # data: run_id, task, plan, plan_defaults, config, parent
    RUN_STATUS = "run_status"  # data: status, reason
    PLAN = "plan"  # data: plan, plan_defaults (models/plan_log.py: the plan as logged)
    STEP = "step"  # step; data: status, attempt, and output | failure | reason
    INTENT = "intent"  # step; data: attempt, n, kind, key, request (before a side effect)
    RESULT = "result"  # step; data: attempt, n, kind, key, ok, response | failure
    VALUE = "value"  # step; data: attempt, n, kind (now|random|id), value
    APPROVAL = "approval"  # step; data: approved, by, reason (a human decision)
    USAGE = "usage"  # step; data: tokens, cost_usd, llm_calls (deltas)
    EVENT = "event"  # step; data: free-form progress (not replayed, never fsynced)


class Durability(StrEnum):
    """How hard the writer works before a durable record is acknowledged.

    - ``sync``: fsync before acknowledging; survives power loss where storage honours fsync.
    - ``batch``: written before acknowledging (survives a process crash); fsync every batch
      (group commit), so power loss may lose the last unsynced batch.
    - ``none``: never fsynced; non-durable appends are buffered and written once per
      event-loop turn (tests, benchmarks, strict replay scratch runs; ADR 027).
    """

    SYNC = "sync"
    BATCH = "batch"
    NONE = "none"


class Record(BaseModel):
    """One line of the log. ``seq`` starts at 0 and has no gaps."""

    model_config = ConfigDict(frozen=True)

    v: int = Field(TRACE_VERSION, description="Schema version of the record.")
    seq: int = Field(ge=0, description="Position in the log, 0-based, gap-free.")
    ts: float = Field(description="Wall time (seconds since the epoch) from the run's clock.")
    type: RecordType = Field(description="What the record says.")
    step: str | None = Field(None, description="The step it concerns, if any.")
    data: dict[str, Any] = Field(default_factory=dict, description="Type-specific payload.")
    crc: int | None = Field(
        None,
        description="Chained checksum as stored by the backend (None before it is written);"
        " snapshots use it to check they still agree with the log.",
    )


_new = object.__new__
_set = object.__setattr__
_FIELDS_SET = set(Record.model_fields)


def _fast_record(  # noqa: PLR0917 (positional: the hot path's cheapest call)
    seq: int, ts: float, type: RecordType, step: str | None, data: dict[str, Any], crc: int | None
) -> Record:
    """A :class:`Record` without validation, set up the way ``model_construct`` sets it up
    (about 5x cheaper). :func:`_pick_constructor` checks at import that both still agree."""
    rec = _new(Record)
    _set(
        rec,
        "__dict__",
        {
            "v": TRACE_VERSION,
            "seq": seq,
            "ts": ts,
            "type": type,
            "step": step,
            "data": data,
            "crc": crc,
        },
    )
    _set(rec, "__pydantic_fields_set__", _FIELDS_SET.copy())  # model_copy updates it
    _set(rec, "__pydantic_extra__", None)
    _set(rec, "__pydantic_private__", None)
    return rec


def _slow_record(  # noqa: PLR0917 (the same signature as _fast_record)
    seq: int, ts: float, type: RecordType, step: str | None, data: dict[str, Any], crc: int | None
) -> Record:
    return Record.model_construct(
        v=TRACE_VERSION, seq=seq, ts=ts, type=type, step=step, data=data, crc=crc
    )


def _pick_constructor() -> Callable[..., Record]:
    """The fast constructor when it builds exactly what pydantic builds, else pydantic's."""
    args = (3, 1.5, RecordType.STEP, "s", {"k": 1}, 7)
    fast, slow = _fast_record(*args), _slow_record(*args)
    same = all(
        type(getattr(fast, a, None)) is type(getattr(slow, a, None))
        and getattr(fast, a, None) == getattr(slow, a, None)
        for a in (
            "__dict__",
            "__pydantic_fields_set__",
            "__pydantic_extra__",
            "__pydantic_private__",
        )
    )
    return _fast_record if same and fast == slow else _slow_record


logged_record: Callable[
    [int, float, RecordType, str | None, dict[str, Any], int | None], Record
] = _pick_constructor()
"""``logged_record(seq, ts, type, step, data, crc)``: the :class:`Record` of a line just
encoded, or read and checked, built without validation (its values are valid by
construction; the write and read paths make one per record)."""


class RecoveryReport(BaseModel):
    """What opening a log found and did."""

    model_config = ConfigDict(frozen=True)

    records: int = Field(0, description="Valid records kept.")
    torn_tail: bool = Field(False, description="A partial or damaged tail was found.")
    truncated_bytes: int = Field(0, description="Bytes cut from the tail (moved aside first).")
    tail_reason: str | None = Field(None, description="Why the tail was judged damaged.")
    snapshot_seq: int | None = Field(None, description="Seq of the snapshot used, if any.")


class TraceLog(BaseModel):
    """A run's records as read, with the recovery report."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    records: tuple[Record, ...]
    report: RecoveryReport


class ArtifactRef(BaseModel):
    """A file stored by content in the run's artifact store."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    size: int
    name: str = Field(description="The name the producer gave it (display only).")
    media_type: str = "application/octet-stream"


class TraceWriter(ABC):
    """Appends records to one run. Holds the run's lock until closed. Not thread-safe."""

    run_id: str
    durability: Durability

    @property
    @abstractmethod
    def next_seq(self) -> int:
        """The seq the next appended record will get."""

    @abstractmethod
    def append(
        self,
        type: RecordType,
        data: Mapping[str, Any],
        *,
        step: str | None = None,
        ts: float,
        durable: bool = False,
    ) -> Record:
        """Append one record. With ``durable=True`` it is on stable storage (per the
        durability mode) when this returns; without, a writer in durability ``none`` may
        keep it in memory until :meth:`flush`, :meth:`sync`, :meth:`close` or the next durable
        append. Raises ``TraceWriteError`` on I/O failure, after which the writer refuses
        further appends."""

    def append_values(
        self,
        type: RecordType,
        data: Mapping[str, Any],
        *,
        step: str | None = None,
        ts: float,
        durable: bool = False,
        data_json: str | None = None,
    ) -> tuple[int, int | None, dict[str, Any]]:
        """Append as :meth:`append` does, returning ``(seq, crc, data as logged)`` instead of
        a Record: what the run journal needs of a record it folds (its hot path builds a
        Record only for listeners). A writer that can skip building one overrides this.

        ``data_json``: the canonical JSON of ``data`` when the caller has it already (the
        journal writes its two most frequent records from templates,
        ``trace._format.launch_json`` and ``commit_json``); a writer may use it instead of
        encoding ``data`` again, or ignore it."""
        rec = self.append(type, data, step=step, ts=ts, durable=durable)
        return rec.seq, rec.crc, rec.data

    @property
    def pending(self) -> bool:
        """Whether appended records wait in memory for :meth:`flush` (only a writer in
        durability ``none`` buffers, and only non-durable appends)."""
        return False

    def flush(self) -> None:  # noqa: B027 (an optional hook: most writers do not buffer)
        """Write every buffered record (no fsync). The default writer does not buffer."""

    @abstractmethod
    def sync(self) -> None:
        """Write what is buffered and make everything appended so far durable (per the
        durability mode)."""

    @abstractmethod
    def close(self) -> None:
        """Sync and release the lock. Idempotent."""

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TraceStore(ABC):
    """Where runs live. One directory per run under ``root`` (see docs/trace.md).

    The store owns the run directory's layout: callers ask it who holds a run
    (:meth:`holder`) and whether a run's log changed (:meth:`log_stamp`); none of them
    knows a file name inside the directory.
    """

    root: Path
    fileio: FileIO | None = None
    """The file layer the store's files go through (a simulated disk in power-loss tests);
    snapshots written beside the log go through the same one. None: the operating system."""

    @abstractmethod
    def create(self, run_id: str, *, durability: Durability = Durability.SYNC) -> TraceWriter:
        """Start a new, empty run and return its writer (holding the lock)."""

    @abstractmethod
    def open_append(
        self, run_id: str, *, durability: Durability = Durability.SYNC
    ) -> tuple[TraceLog, TraceWriter]:
        """Recover an existing run for writing: take the lock, truncate a torn tail (moving
        it aside), refuse mid-log damage with ``TraceCorruptError``, and return what was
        read plus a writer positioned after it."""

    def open_append_after(
        self,
        run_id: str,
        *,
        seq: int,
        crc: int,
        offset: int | None = None,
        durability: Durability = Durability.SYNC,
    ) -> tuple[TraceLog, TraceWriter]:
        """Like :meth:`open_append`, resuming after a snapshot taken at record ``seq``.

        When record ``seq`` still has checksum ``crc``, only the records after it are
        returned and ``report.snapshot_seq == seq``; otherwise the whole log is returned and
        ``report.snapshot_seq`` is None. ``offset`` (the byte offset just past record
        ``seq``) is a hint a backend may use to avoid reading the prefix. This default
        reads everything; backends override it to make resume O(tail).
        """
        log, writer = self.open_append(run_id, durability=durability)
        if seq < len(log.records) and log.records[seq].crc == crc:
            report = log.report.model_copy(update={"snapshot_seq": seq})
            tail = log.model_copy(update={"records": log.records[seq + 1 :], "report": report})
            return tail, writer
        return log, writer

    @abstractmethod
    def read(self, run_id: str) -> TraceLog:
        """Read a run without taking the lock or changing anything. A torn tail is reported
        and ignored; mid-log damage raises ``TraceCorruptError``."""

    @abstractmethod
    def list_runs(self) -> list[str]:
        """Run ids in the store, oldest first."""

    @abstractmethod
    def exists(self, run_id: str) -> bool:
        """Whether a run with this id exists."""

    @abstractmethod
    def put_artifact(
        self, run_id: str, data: bytes, *, name: str, media_type: str = "application/octet-stream"
    ) -> ArtifactRef:
        """Store bytes by content (sha256) under the run; idempotent."""

    @abstractmethod
    def get_artifact(self, run_id: str, sha256: str) -> bytes:
        """Bytes of a stored artifact; ``KeyError`` when absent."""

    @abstractmethod
    def run_dir(self, run_id: str) -> Path:
        """The run's directory (for snapshots and sandbox workspaces)."""

    def holder(self, run_id: str) -> str | None:
        """Who writes this run from another process (``pid=… host=…``), or None.

        Reading it never disturbs the writer. A holder left behind by a killed process on
        this host, or this process's own one-off write, is None. This default (a store with
        no cross-process writers) always answers None.
        """
        return None

    def log_stamp(self, run_id: str) -> Hashable | None:
        """A cheap token that changes whenever the run's log changes (for readers' caches);
        None when the backend cannot tell (then nothing is cached)."""
        return None
