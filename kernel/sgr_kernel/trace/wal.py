"""The file-backed trace store: one append-only JSONL WAL per run (docs/trace.md).

Layout under ``root``::

    runs/<run_id>/wal.jsonl          header line + one record per line, CRC-chained
    runs/<run_id>/wal.jsonl.torn-N   a torn tail cut at byte N by recovery (forensics)
    runs/<run_id>/snapshot.json      newest snapshot (CheckpointManager), + snapshot.prev.json
    runs/<run_id>/artifacts/<sha256> content-addressed files
    runs/<run_id>/lock               flock'd by the one writer; holds "pid=… host=…"

The format is in ``_format.py``, the writer in ``_writer.py``; ``docs/trace.md`` describes
them for humans.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from collections.abc import Hashable
from dataclasses import replace
from pathlib import Path

from sgr_kernel.errors import (
    RunNotCreatedError,
    RunNotFoundError,
    TraceCorruptError,
    TraceError,
    TraceLockedError,
    TraceWriteError,
)
from sgr_kernel.trace import _format, _lock
from sgr_kernel.trace._crash import crashpoint
from sgr_kernel.trace._fileio import FileIO, LockBusy, OsFileIO
from sgr_kernel.trace._lock import LOCK_NAME
from sgr_kernel.trace._writer import FileTraceWriter
from sgr_kernel.trace.base import (
    RUN_ID_PATTERN,
    ArtifactRef,
    Durability,
    RecoveryReport,
    TraceLog,
    TraceStore,
    TraceWriter,
    validate_run_id,
)

__all__ = ["FileTraceStore", "FileTraceWriter", "validate_run_id"]

_RUN_ID = re.compile(RUN_ID_PATTERN)
_SHA256 = re.compile(r"[0-9a-f]{64}")
WAL_NAME = "wal.jsonl"


class FileTraceStore(TraceStore):
    """Runs as directories of files under ``root`` (docs/trace.md)."""

    def __init__(
        self,
        root: Path | str,
        *,
        fileio: FileIO | None = None,
        batch_records: int = 64,
        batch_ms: float = 20.0,
    ) -> None:
        self.root = Path(root)
        self.fileio: FileIO = fileio if fileio is not None else OsFileIO()
        self.batch_records, self.batch_ms = batch_records, batch_ms

    # ------------------------------------------------------------ paths

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / validate_run_id(run_id)

    def _wal(self, run_id: str) -> Path:
        return self.run_dir(run_id) / WAL_NAME

    def exists(self, run_id: str) -> bool:
        return self.fileio.exists(self._wal(run_id))

    def holder(self, run_id: str) -> str | None:
        try:
            text = self.fileio.read(self.run_dir(run_id) / LOCK_NAME).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        return _lock.live_holder(text)

    def log_stamp(self, run_id: str) -> Hashable | None:
        if not isinstance(self.fileio, OsFileIO):
            return None  # a simulated disk: no cheap stamp, readers do not cache
        try:
            st = os.stat(self._wal(run_id))
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns)

    def _require(self, run_id: str) -> Path:
        if not self.exists(run_id):
            raise RunNotFoundError(run_id, str(self.root))
        return self._wal(run_id)

    def list_runs(self) -> list[str]:
        found: list[tuple[int, str]] = []
        for name in self.fileio.listdir(self.root / "runs"):
            if not _RUN_ID.fullmatch(name) or ".." in name or not self.exists(name):
                continue
            head = self.fileio.read(self._wal(name))[:4096]
            created = _format.scan(head.split(b"\n", 1)[0] + b"\n", name).created_ns
            found.append((created, name))
        return [name for _, name in sorted(found)]

    # ------------------------------------------------------------ writing

    def _lock(self, run_id: str) -> int:
        holder = _lock.holder_text()
        try:
            return self.fileio.lock(self.run_dir(run_id) / LOCK_NAME, holder)
        except LockBusy as e:
            raise TraceLockedError(run_id, e.holder) from None
        except OSError as e:
            raise _unwritable(run_id, self.run_dir(run_id), e) from e

    def _writer(
        self, run_id: str, lock: int, fd: int, durability: Durability, scan: _format.Scan
    ) -> FileTraceWriter:
        assert scan.last_crc is not None
        return FileTraceWriter(
            run_id=run_id,
            path=self._wal(run_id),
            fileio=self.fileio,
            fd=fd,
            lock=lock,
            next_seq=scan.next_seq,
            prev=scan.last_crc,
            offset=scan.good_end,
            durability=durability,
            batch_records=self.batch_records,
            batch_ms=self.batch_ms,
        )

    def create(self, run_id: str, *, durability: Durability = Durability.SYNC) -> TraceWriter:
        run_dir = self.run_dir(run_id)
        try:
            self.fileio.makedirs(run_dir)
        except OSError as e:
            raise _unwritable(run_id, run_dir, e) from e
        lock = self._lock(run_id)
        try:
            wal = self._wal(run_id)
            if self.fileio.exists(wal) and self.fileio.read(wal)[:1]:
                raise TraceError(f"run {run_id!r} already exists under {self.root}")
            scan = self._write_header(run_id, durable=durability is not Durability.NONE)
            fd = self.fileio.open_append(wal)
        except BaseException:
            self.fileio.unlock(lock)
            raise
        return self._writer(run_id, lock, fd, durability, scan)

    def _write_header(self, run_id: str, *, durable: bool = True) -> _format.Scan:
        """Write a fresh WAL holding only a header; with ``durable``, durable (file and
        directories) on return. A run in durability ``none`` skips the three fsyncs: it
        promises nothing across power loss, so a run lost whole by one is within its terms."""
        wal, salt = self._wal(run_id), secrets.token_hex(16)
        header = _format.encode_header(run_id, salt, time.time_ns())
        try:
            fd = self.fileio.open_trunc(wal)
            try:
                self.fileio.write(fd, header)
                crashpoint("create_header")
                if durable:
                    self.fileio.fsync(fd)
            finally:
                self.fileio.close(fd)
            if durable:
                self.fileio.fsync_dir(wal.parent)
                self.fileio.fsync_dir(wal.parent.parent)
        except OSError as e:
            raise TraceWriteError(f"run {run_id!r}: creating {wal} failed ({e})") from e
        crashpoint("create_dir_fsync")
        return _format.scan(header, run_id)

    def open_append(
        self, run_id: str, *, durability: Durability = Durability.SYNC
    ) -> tuple[TraceLog, TraceWriter]:
        return self._open(run_id, durability, None)

    def open_append_after(
        self,
        run_id: str,
        *,
        seq: int,
        crc: int,
        offset: int | None = None,
        durability: Durability = Durability.SYNC,
    ) -> tuple[TraceLog, TraceWriter]:
        return self._open(run_id, durability, (seq, crc, offset))

    def _open(
        self, run_id: str, durability: Durability, anchor: tuple[int, int, int | None] | None
    ) -> tuple[TraceLog, TraceWriter]:
        wal = self._require(run_id)
        lock = self._lock(run_id)
        try:
            buf = self.fileio.read(wal)
            scan, snap_seq = self._scan_from(buf, run_id, anchor)
            if scan.damage_line is not None and scan.mid_log:
                raise _corrupt(wal, scan)
            report = self._recover(run_id, buf, scan)
            if scan.salt is None and scan.records == [] and snap_seq is None:
                # A create that died before its header was durable: the run never existed.
                raise RunNotCreatedError(run_id, str(self.root))
            fd = self.fileio.open_append(wal)
        except OSError as e:
            self.fileio.unlock(lock)
            raise _unwritable(run_id, wal, e) from e
        except BaseException:
            self.fileio.unlock(lock)
            raise
        report = report.model_copy(update={"snapshot_seq": snap_seq})
        log = TraceLog(run_id=run_id, records=tuple(scan.records), report=report)
        return log, self._writer(run_id, lock, fd, durability, scan)

    def _scan_from(
        self, buf: bytes, run_id: str, anchor: tuple[int, int, int | None] | None
    ) -> tuple[_format.Scan, int | None]:
        if anchor is not None:
            seq, crc, offset = anchor
            # The anchor line ends just before ``offset``; it must be record ``seq`` with
            # checksum ``crc`` or the snapshot no longer describes this log.
            if offset is not None and 0 < offset <= len(buf) and buf[offset - 1 : offset] == b"\n":
                start = buf.rfind(b"\n", 0, offset - 1) + 1
                line = buf[start : offset - 1]
                if _format.self_valid(line) == crc and f'"seq":{seq},'.encode() in line:
                    return _format.scan(buf, run_id, start=offset, start_seq=seq + 1, prev=crc), seq
        full = _format.scan(buf, run_id)
        if anchor is not None:
            seq, crc, _ = anchor
            if seq < len(full.records) and full.records[seq].crc == crc:
                return replace(full, records=full.records[seq + 1 :]), seq
        return full, None

    def _recover(self, run_id: str, buf: bytes, scan: _format.Scan) -> RecoveryReport:
        """Cut a torn tail: copy it aside, truncate, fsync. Returns the report."""
        cut = len(buf) - scan.good_end
        if scan.damage_line is None and cut == 0:
            return RecoveryReport(records=scan.next_seq)
        wal = self._wal(run_id)
        aside = wal.with_name(f"{WAL_NAME}.torn-{scan.good_end}")
        try:
            fd = self.fileio.open_trunc(aside)
            try:
                self.fileio.write(fd, buf[scan.good_end :])
                self.fileio.fsync(fd)
            finally:
                self.fileio.close(fd)
            crashpoint("recover_moved_aside")
            self.fileio.truncate(wal, scan.good_end)
            crashpoint("recover_truncated")
            fd = self.fileio.open_append(wal)
            try:
                self.fileio.fsync(fd)
            finally:
                self.fileio.close(fd)
            self.fileio.fsync_dir(wal.parent)
        except OSError as e:
            raise TraceWriteError(f"run {run_id!r}: recovering {wal} failed ({e})") from e
        return RecoveryReport(
            records=scan.next_seq,
            torn_tail=True,
            truncated_bytes=cut,
            tail_reason=_tail_reason(scan, cut),
        )

    # ------------------------------------------------------------ reading

    def read(self, run_id: str) -> TraceLog:
        wal = self._require(run_id)
        scan = _format.scan(self.fileio.read(wal), run_id)
        if scan.damage_line is not None and scan.mid_log:
            raise _corrupt(wal, scan)
        torn = scan.damage_line is not None
        report = RecoveryReport(
            records=len(scan.records),
            torn_tail=torn,
            tail_reason=_tail_reason(scan, None) + " (ignored; not cut by a read)"
            if torn
            else None,
        )
        return TraceLog(run_id=run_id, records=tuple(scan.records), report=report)

    # ------------------------------------------------------------ artifacts

    def put_artifact(
        self, run_id: str, data: bytes, *, name: str, media_type: str = "application/octet-stream"
    ) -> ArtifactRef:
        self._require(run_id)
        sha = hashlib.sha256(data).hexdigest()
        ref = ArtifactRef(sha256=sha, size=len(data), name=name, media_type=media_type)
        folder = self.run_dir(run_id) / "artifacts"
        path = folder / sha
        if self.fileio.exists(path):
            return ref  # same bytes by construction: content-addressed
        self.fileio.makedirs(folder)
        tmp = folder / f".tmp-{sha}-{os.getpid()}"
        try:
            fd = self.fileio.open_trunc(tmp)
            try:
                self.fileio.write(fd, data)
                self.fileio.fsync(fd)
            finally:
                self.fileio.close(fd)
            self.fileio.rename(tmp, path)
            self.fileio.fsync_dir(folder)
        except OSError as e:
            raise TraceWriteError(f"run {run_id!r}: storing artifact {sha} failed ({e})") from e
        return ref

    def get_artifact(self, run_id: str, sha256: str) -> bytes:
        if not _SHA256.fullmatch(sha256):
            raise KeyError(sha256)
        try:
            return self.fileio.read(self.run_dir(run_id) / "artifacts" / sha256)
        except FileNotFoundError:
            raise KeyError(sha256) from None


def _tail_reason(scan: _format.Scan, cut: int | None) -> str:
    where = f"line {scan.damage_line}" if scan.damage_line is not None else "end of file"
    bytes_ = f"{cut} byte(s) " if cut is not None else ""
    return f"{bytes_}torn at {where}: {scan.reason or 'trailing bytes'}"


def _unwritable(run_id: str, path: Path, e: OSError) -> TraceWriteError:
    return TraceWriteError(
        f"run {run_id!r}: the store cannot be written at {path} ({e.strerror or e}); nothing "
        "was changed. Make the store writable (a read-only mount, an immutable file, a full "
        "disk?) or point SGR_HOME at one that is, then retry"
    )


def _corrupt(wal: Path, scan: _format.Scan) -> TraceCorruptError:
    return TraceCorruptError(
        str(wal), scan.damage_seq, scan.damage_line or 0, scan.reason or "damaged"
    )
