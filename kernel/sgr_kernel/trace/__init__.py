"""The trace: an append-only, CRC-chained write-ahead log per run (docs/trace.md).

``FileTraceStore`` is the store; ``CheckpointManager`` adds snapshots for O(tail) resume.
The on-disk format, durability modes, recovery rules and crash points are in
``docs/trace.md``.
"""

from sgr_kernel.trace._crash import TRACE_CRASH_POINTS, crashpoint
from sgr_kernel.trace._fileio import FileIO, OsFileIO
from sgr_kernel.trace.base import (
    RUN_ID_PATTERN,
    TRACE_VERSION,
    ArtifactRef,
    Durability,
    Record,
    RecordType,
    RecoveryReport,
    TraceLog,
    TraceStore,
    TraceWriter,
    default_root,
    validate_run_id,
)
from sgr_kernel.trace.checkpoint import CheckpointManager, Resumed, StateCodec
from sgr_kernel.trace.wal import FileTraceStore, FileTraceWriter

__all__ = [
    "RUN_ID_PATTERN",
    "TRACE_CRASH_POINTS",
    "TRACE_VERSION",
    "ArtifactRef",
    "CheckpointManager",
    "Durability",
    "FileIO",
    "FileTraceStore",
    "FileTraceWriter",
    "OsFileIO",
    "Record",
    "RecordType",
    "RecoveryReport",
    "Resumed",
    "StateCodec",
    "TraceLog",
    "TraceStore",
    "TraceWriter",
    "crashpoint",
    "default_root",
    "validate_run_id",
]
