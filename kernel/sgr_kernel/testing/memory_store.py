"""An in-memory :class:`TraceStore` for tests (same contract, no files, no durability)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sgr_kernel.errors import RunNotFoundError, TraceError, TraceLockedError
from sgr_kernel.trace import _format
from sgr_kernel.trace.base import (
    ArtifactRef,
    Durability,
    Record,
    RecordType,
    RecoveryReport,
    TraceLog,
    TraceStore,
    TraceWriter,
)
from sgr_kernel.trace.wal import validate_run_id

__all__ = ["MemoryTraceStore"]


@dataclass
class _Run:
    salt: str
    records: list[Record] = field(default_factory=list)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    locked: bool = False


class _MemoryWriter(TraceWriter):
    def __init__(self, store: MemoryTraceStore, run_id: str, durability: Durability) -> None:
        self.run_id, self.durability = run_id, Durability(durability)
        self._store, self._closed = store, False

    @property
    def next_seq(self) -> int:
        return len(self._store._runs[self.run_id].records)

    def append(
        self,
        type: RecordType,
        data: Mapping[str, Any],
        *,
        step: str | None = None,
        ts: float,
        durable: bool = False,
    ) -> Record:
        if self._closed:
            raise TraceError(f"run {self.run_id!r}: the writer is closed")
        run = self._store._runs[self.run_id]
        prev = run.records[-1].crc if run.records else _format.chain_seed(run.salt)
        # Same encoding as the file store, so records (and their crc) compare equal and
        # non-JSON data fails the same way.
        rec, _ = _format.encode_record(
            seq=len(run.records), ts=ts, type=RecordType(type), step=step, data=data, prev=prev or 0
        )
        # Round-trip through JSON so callers cannot mutate the stored payload.
        rec = rec.model_copy(update={"data": json.loads(_format.canonical(rec.data))})
        run.records.append(rec)
        return rec

    def sync(self) -> None:
        if self._closed:
            raise TraceError(f"run {self.run_id!r}: the writer is closed")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with self._store._mutex:
                self._store._runs[self.run_id].locked = False


class MemoryTraceStore(TraceStore):
    """Keeps runs in a dict. ``root`` only names where ``run_dir`` points (never created)."""

    def __init__(self, root: Path | str = "/nonexistent/sgr-memory") -> None:
        self.root = Path(root)
        self._runs: dict[str, _Run] = {}
        self._order: list[str] = []
        self._mutex = threading.Lock()

    def _get(self, run_id: str) -> _Run:
        run = self._runs.get(validate_run_id(run_id))
        if run is None:
            raise RunNotFoundError(run_id, str(self.root))
        return run

    def _lock(self, run_id: str, run: _Run) -> None:
        with self._mutex:
            if run.locked:
                raise TraceLockedError(run_id, "another writer in this process")
            run.locked = True

    def create(self, run_id: str, *, durability: Durability = Durability.SYNC) -> TraceWriter:
        validate_run_id(run_id)
        with self._mutex:
            if run_id in self._runs:
                raise TraceError(f"run {run_id!r} already exists")
            self._runs[run_id] = _Run(salt=hashlib.sha256(run_id.encode()).hexdigest()[:32])
            self._order.append(run_id)
        run = self._runs[run_id]
        self._lock(run_id, run)
        return _MemoryWriter(self, run_id, durability)

    def open_append(
        self, run_id: str, *, durability: Durability = Durability.SYNC
    ) -> tuple[TraceLog, TraceWriter]:
        run = self._get(run_id)
        self._lock(run_id, run)
        return self.read(run_id), _MemoryWriter(self, run_id, durability)

    def read(self, run_id: str) -> TraceLog:
        run = self._get(run_id)
        records = tuple(run.records)
        return TraceLog(run_id=run_id, records=records, report=RecoveryReport(records=len(records)))

    def list_runs(self) -> list[str]:
        return list(self._order)

    def exists(self, run_id: str) -> bool:
        return validate_run_id(run_id) in self._runs

    def put_artifact(
        self, run_id: str, data: bytes, *, name: str, media_type: str = "application/octet-stream"
    ) -> ArtifactRef:
        run = self._get(run_id)
        sha = hashlib.sha256(data).hexdigest()
        run.artifacts.setdefault(sha, bytes(data))
        return ArtifactRef(sha256=sha, size=len(data), name=name, media_type=media_type)

    def get_artifact(self, run_id: str, sha256: str) -> bytes:
        return self._get(run_id).artifacts[sha256]

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / validate_run_id(run_id)
