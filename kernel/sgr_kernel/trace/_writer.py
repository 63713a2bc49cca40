"""The WAL's writer: appends one run's records, CRC-chained, under the run's lock.

The store (``wal.py``) opens or creates the log and hands a positioned writer out; the line
format is ``_format.py``'s. Durability is per :class:`~sgr_kernel.trace.base.Durability`;
with ``none``, non-durable appends are buffered until :meth:`FileTraceWriter.flush`
(docs/adr/027-buffered-writes-without-durability.md).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sgr_kernel.errors import TraceError, TraceWriteError
from sgr_kernel.trace import _format
from sgr_kernel.trace._crash import crashpoint
from sgr_kernel.trace._fileio import FileIO
from sgr_kernel.trace.base import Durability, Record, RecordType, TraceWriter, logged_record

__all__ = ["FileTraceWriter"]

_TYPE_OF = {t: t for t in RecordType} | {t.value: t for t in RecordType}
"""A record type from the enum or its string, cheaper than ``RecordType(x)`` per append."""


class FileTraceWriter(TraceWriter):
    """Appends to one run's WAL; holds the run's lock until :meth:`close`.

    Durability per :class:`Durability`: ``sync`` fsyncs before a durable append returns;
    ``batch`` writes at once (survives kill -9) and fsyncs every ``batch_records`` records
    or ``batch_ms`` milliseconds (checked on append), on :meth:`sync` and :meth:`close`, so
    power loss may lose the last unsynced batch; ``none`` never fsyncs and keeps non-durable
    appends in memory until :meth:`flush` (or a durable append, :meth:`sync`, :meth:`close`)
    writes them all with one ``write``.
    """

    def __init__(
        self,
        *,
        run_id: str,
        path: Path,
        fileio: FileIO,
        fd: int,
        lock: int,
        next_seq: int,
        prev: int,
        offset: int,
        durability: Durability,
        batch_records: int,
        batch_ms: float,
    ) -> None:
        self.run_id, self.durability = run_id, Durability(durability)
        self._path, self._io, self._fd, self._lock = path, fileio, fd, lock
        self._seq, self._prev, self._offset = next_seq, prev, offset
        self._batch_records, self._batch_s = batch_records, batch_ms / 1000.0
        self._unsynced = 0  # records written since the last fsync
        self._first_unsynced = 0.0
        self._buffered = self.durability is Durability.NONE
        self._buf: list[bytes] = []  # encoded lines not yet written (``none`` only)
        self._buf_seq = next_seq  # the seq of the first buffered line
        self._failed: TraceWriteError | None = None
        self._closed = False

    @property
    def next_seq(self) -> int:
        return self._seq

    @property
    def offset(self) -> int:
        """Byte offset just past the last appended record (a snapshot's anchor)."""
        return self._offset

    @property
    def last_crc(self) -> int:
        """CRC of the last record (the chain seed when the log is empty)."""
        return self._prev

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def append(
        self,
        type: RecordType,
        data: Mapping[str, Any],
        *,
        step: str | None = None,
        ts: float,
        durable: bool = False,
    ) -> Record:
        rtype = _TYPE_OF.get(type) or RecordType(type)
        seq, crc, logged = self.append_values(rtype, data, step=step, ts=ts, durable=durable)
        return logged_record(seq, ts, rtype, step, logged, crc)

    def append_values(
        self,
        type: RecordType,
        data: Mapping[str, Any],
        *,
        step: str | None = None,
        ts: float,
        durable: bool = False,
        data_json: str | None = None,
    ) -> tuple[int, int, dict[str, Any]]:
        if self._failed is not None or self._closed:
            self._check_usable()
        # Encoding errors (non-JSON data) raise here, before any byte is written.
        seq = self._seq
        crc, logged, line = _format.encode_line(
            seq, ts, _TYPE_OF.get(type) or RecordType(type), step, data, self._prev, data_json
        )
        if self._buffered:
            if not self._buf:
                self._buf_seq = seq
            self._buf.append(line)
            self._seq, self._prev, self._offset = seq + 1, crc, self._offset + len(line)
            if durable:
                self.flush()
            return seq, crc, logged
        self._write(line, seq)
        self._seq, self._prev, self._offset = seq + 1, crc, self._offset + len(line)
        if self._unsynced == 0:
            self._first_unsynced = time.monotonic()
        self._unsynced += 1
        if self._needs_fsync(durable):
            self._fsync()
            crashpoint("after_fsync")
        return seq, crc, logged

    def flush(self) -> None:
        """Write every buffered record with one ``write`` (no fsync)."""
        if not self._buf:
            return
        if self._failed is not None or self._closed:
            self._check_usable()
        lines, self._buf = self._buf, []
        self._write(b"".join(lines), self._buf_seq)

    def _write(self, data: bytes, first_seq: int) -> None:
        crashpoint("before_write")
        try:
            self._io.write(self._fd, data)
        except OSError as e:
            # A short write may have left part of a line: recovery cuts it as a torn tail.
            raise self._fail("write", e, first_seq) from e
        crashpoint("after_write")

    def _needs_fsync(self, durable: bool) -> bool:
        if self.durability is Durability.SYNC:
            return durable
        if self.durability is Durability.BATCH:
            return (
                self._unsynced >= self._batch_records
                or time.monotonic() - self._first_unsynced >= self._batch_s
            )
        return False

    def _fsync(self) -> None:
        try:
            self._io.fsync(self._fd)
        except OSError as e:
            # Never retried: after a failed fsync Linux may drop the dirty pages and a
            # second fsync would "succeed" without the data (PostgreSQL's fsyncgate).
            raise self._fail("fsync", e, self._seq) from e
        self._unsynced = 0

    def _fail(self, what: str, e: OSError, first_seq: int) -> TraceWriteError:
        self._failed = TraceWriteError(
            f"run {self.run_id!r}: {what} of {self._path} failed ({e}); nothing after seq "
            f"{first_seq - 1} is acknowledged and this writer refuses further appends. "
            "Fix the storage, then reopen the run (recovery cuts any partial record)."
        )
        return self._failed

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise TraceWriteError(f"writer failed earlier: {self._failed}")
        if self._closed:
            raise TraceError(f"run {self.run_id!r}: the writer is closed")

    def sync(self) -> None:
        self._check_usable()
        self.flush()
        if self._unsynced and self.durability is not Durability.NONE:
            self._fsync()

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self._failed is None:
                self.flush()
                if self._unsynced and self.durability is not Durability.NONE:
                    self._fsync()
        finally:
            self._closed = True
            # The fd is gone either way; a failed close must not keep the lock held.
            with contextlib.suppress(OSError):
                self._io.close(self._fd)
            with contextlib.suppress(OSError):
                self._io.unlock(self._lock)
