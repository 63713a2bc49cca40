"""Snapshots of a run's folded state, so resume reads only the WAL tail (docs/trace.md).

The manager is generic over the state type ``S``; a :class:`StateCodec` says how to start,
fold a record in, and turn the state into JSON and back (the engine plugs in the RunState
fold). Every ``every`` records it writes ``snapshot.json`` atomically (temp file, fsync,
rename, directory fsync), keeping the one before as ``snapshot.prev.json``. A snapshot
names the record it covers by seq *and* CRC (and the byte offset after it), so a snapshot
that no longer agrees with the log is never used: restore falls back to the older
snapshot, then to a full fold.

Write cost: one snapshot (``O(size of state)``) per ``every`` records, i.e. amortised
``O(state / every)`` per record, independent of history length when the state is bounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from sgr_kernel.errors import TraceWriteError
from sgr_kernel.trace import _format
from sgr_kernel.trace._crash import crashpoint
from sgr_kernel.trace._fileio import FileIO, OsFileIO
from sgr_kernel.trace.base import Durability, Record, TraceLog, TraceStore, TraceWriter

__all__ = ["SNAPSHOT_NAMES", "CheckpointManager", "Resumed", "StateCodec"]

S = TypeVar("S")
SNAPSHOT = "snapshot.json"
SNAPSHOT_PREV = "snapshot.prev.json"
SNAPSHOT_NAMES = (SNAPSHOT, SNAPSHOT_PREV)
_SNAP_FORMAT = 1


class StateCodec(Protocol[S]):
    """How to fold records into a state and persist it. ``apply`` must be pure."""

    def initial(self) -> S:
        """The state of an empty log."""
        ...

    def apply(self, state: S, record: Record) -> S:
        """The state after ``record``."""
        ...

    def dump(self, state: S) -> dict[str, Any]:
        """JSON-ready form of ``state``."""
        ...

    def load(self, data: Mapping[str, Any]) -> S:
        """Inverse of :meth:`dump`; raise ``ValueError``/``TypeError``/``KeyError`` if unusable."""
        ...


@dataclass(frozen=True)
class Resumed(Generic[S]):
    """What :meth:`CheckpointManager.open` gives the engine.

    Attributes:
        state: The folded state after the last valid record.
        log: The records folded on top of the snapshot (all of them when
            ``log.report.snapshot_seq`` is None) and the recovery report.
        writer: Positioned after the last valid record, holding the run's lock.
    """

    state: S
    log: TraceLog
    writer: TraceWriter


@dataclass(frozen=True)
class _Snap:
    name: str
    seq: int
    crc: int
    offset: int | None
    state: dict[str, Any]


@dataclass
class _Tracked:
    writer: TraceWriter
    last_snap_seq: int


class _Snapshots:
    """A run's snapshots, newest first, parsed lazily: a snapshot is only renamed to the
    previous name just before a newer one takes the current name, so the current file (when
    readable) is always the newest, and the older one is read only if a fallback is needed."""

    def __init__(self, manager: CheckpointManager[Any], run_id: str) -> None:
        self._manager, self._run_id = manager, run_id
        self._names = list(SNAPSHOT_NAMES)
        self._read: list[_Snap] = []

    def _more(self) -> bool:
        while self._names:
            snap = self._manager._read_snapshot(self._run_id, self._names.pop(0))
            if snap is not None:
                self._read.append(snap)
                return True
        return False

    def first(self) -> _Snap | None:
        if not self._read and not self._more():
            return None
        return self._read[0]

    def __iter__(self) -> Iterator[_Snap]:
        i = 0
        while i < len(self._read) or self._more():
            yield self._read[i]
            i += 1


class CheckpointManager(Generic[S]):
    """Snapshots every ``every`` records; restores from snapshot + tail with fallbacks.

    Usage by the engine::

        ckpt = CheckpointManager(store, codec, every=256)
        state, writer = ckpt.create(run_id)                  # new run
        resumed = ckpt.open(run_id)                          # or: resume after a crash
        rec = writer.append(..., durable=True)
        state = codec.apply(state, rec)
        ckpt.after_append(run_id, state, rec)                # maybe snapshots
        ckpt.load(run_id)                                    # read-only state (no lock)
    """

    def __init__(
        self,
        store: TraceStore,
        codec: StateCodec[S],
        *,
        every: int = 256,
        fileio: FileIO | None = None,
    ) -> None:
        if every < 1:
            raise ValueError("every must be >= 1")
        self.store, self.codec, self.every = store, codec, every
        self.fileio: FileIO = fileio or store.fileio or OsFileIO()
        self._runs: dict[str, _Tracked] = {}

    # ------------------------------------------------------------ engine API

    def create(
        self, run_id: str, *, durability: Durability = Durability.SYNC
    ) -> tuple[S, TraceWriter]:
        """Start a new run: its initial state and writer."""
        writer = self.store.create(run_id, durability=durability)
        self._runs[run_id] = _Tracked(writer, -1)
        return self.codec.initial(), writer

    def open(self, run_id: str, *, durability: Durability = Durability.SYNC) -> Resumed[S]:
        """Recover a run for writing: newest agreeing snapshot + the WAL tail."""
        snaps = self._snapshots(run_id)
        s0 = snaps.first()
        if s0 is None:
            log, writer = self.store.open_append(run_id, durability=durability)
        else:
            log, writer = self.store.open_append_after(
                run_id, seq=s0.seq, crc=s0.crc, offset=s0.offset, durability=durability
            )
        try:
            loaded = self._load(s0) if s0 is not None else None
            used: _Snap | None
            if loaded is not None and s0 is not None and log.report.snapshot_seq == s0.seq:
                state, used = self._fold(loaded, log.records), s0
            else:
                if log.report.snapshot_seq is not None:
                    # The newest snapshot agreed but cannot be loaded: we only hold the
                    # tail, so read the whole (already recovered) log for the fallbacks.
                    full = self.store.read(run_id)
                    log = log.model_copy(update={"records": full.records})
                state, used = self._restore(snaps, log.records)
        except BaseException:
            writer.close()
            raise
        snap_seq = used.seq if used is not None else None
        records = tuple(r for r in log.records if snap_seq is None or r.seq > snap_seq)
        report = log.report.model_copy(update={"snapshot_seq": snap_seq})
        log = log.model_copy(update={"records": records, "report": report})
        self._runs[run_id] = _Tracked(writer, -1 if snap_seq is None else snap_seq)
        return Resumed(state=state, log=log, writer=writer)

    def after_append(self, run_id: str, state: S, record: Record) -> bool:
        """Call after folding ``record`` into ``state``; snapshots when one is due."""
        return self.after_seq(run_id, state, record.seq, record.crc)

    def after_seq(self, run_id: str, state: S, seq: int, crc: int | None) -> bool:
        """:meth:`after_append` for the record ``seq`` with its ``crc`` (no Record needed)."""
        tracked = self._runs[run_id]
        if seq - tracked.last_snap_seq < self.every:
            return False
        self._snapshot(run_id, state, seq, crc)
        return True

    def due_seq(self, run_id: str) -> int:
        """The seq of the first record after which a snapshot of ``run_id`` is due: a caller
        may skip :meth:`after_seq` for every record before it (a snapshot taken meanwhile only
        moves it later)."""
        return self._runs[run_id].last_snap_seq + self.every

    def snapshot(self, run_id: str, state: S, record: Record) -> None:
        """Write a snapshot of ``state`` (which includes ``record``, the last appended)."""
        self._snapshot(run_id, state, record.seq, record.crc)

    def _snapshot(self, run_id: str, state: S, seq: int, crc: int | None) -> None:
        tracked = self._runs[run_id]
        writer = tracked.writer
        # The snapshot must never get ahead of the durable log, or power loss could leave a
        # snapshot naming records that are gone (it would be refused, but wasted).
        writer.sync()
        offset = getattr(writer, "offset", None) if writer.next_seq == seq + 1 else None
        if crc is None:
            raise ValueError("snapshot needs a record as returned by the writer (with crc)")
        body = _format.seal(
            {
                "offset": offset,
                "run_id": run_id,
                "seq": seq,
                "snap": _SNAP_FORMAT,
                "state": self.codec.dump(state),
                "wal_crc": crc,
            }
        )
        self._write_atomic(self.store.run_dir(run_id), body)
        tracked.last_snap_seq = seq

    def load(self, run_id: str) -> S:
        """The run's current state, read-only (no lock; a torn tail is ignored, not cut)."""
        log = self.store.read(run_id)
        state, _ = self._restore(self._snapshots(run_id), log.records)
        return state

    def forget(self, run_id: str) -> None:
        """Stop tracking a run (after its writer is closed)."""
        self._runs.pop(run_id, None)

    # ------------------------------------------------------------ internals

    def _fold(self, state: S, records: Iterable[Record]) -> S:
        apply = self.codec.apply
        for rec in records:
            state = apply(state, rec)
        return state

    def _restore(
        self, snaps: Iterable[_Snap], records: tuple[Record, ...]
    ) -> tuple[S, _Snap | None]:
        """Newest snapshot that agrees with ``records`` (the whole log) + the rest folded."""
        for snap in snaps:
            if snap.seq < len(records) and records[snap.seq].crc == snap.crc:
                state = self._load(snap)
                if state is not None:
                    return self._fold(state, records[snap.seq + 1 :]), snap
        return self._fold(self.codec.initial(), records), None

    def _load(self, snap: _Snap) -> S | None:
        try:
            return self.codec.load(snap.state)
        except (ValueError, TypeError, KeyError):
            return None  # a snapshot is a cache: an unreadable one only costs a longer fold

    def _snapshots(self, run_id: str) -> _Snapshots:
        """Readable snapshots of the run, newest first, each read only when asked for."""
        return _Snapshots(self, run_id)

    def _read_snapshot(self, run_id: str, name: str) -> _Snap | None:
        try:
            obj = _format.unseal(self.fileio.read(self.store.run_dir(run_id) / name))
        except FileNotFoundError:
            return None
        if obj is None or obj.get("snap") != _SNAP_FORMAT or obj.get("run_id") != run_id:
            return None
        seq, crc, offset, state = (obj.get(k) for k in ("seq", "wal_crc", "offset", "state"))
        if (
            isinstance(seq, int)
            and isinstance(crc, int)
            and (offset is None or isinstance(offset, int))
            and isinstance(state, dict)
        ):
            return _Snap(name, seq, crc, offset, state)
        return None

    def _write_atomic(self, run_dir: Path, body: bytes) -> None:
        io = self.fileio
        tmp, cur, prev = run_dir / f"{SNAPSHOT}.tmp", run_dir / SNAPSHOT, run_dir / SNAPSHOT_PREV
        try:
            fd = io.open_trunc(tmp)
            try:
                io.write(fd, body)
                crashpoint("snap_tmp_write")
                io.fsync(fd)
            finally:
                io.close(fd)
            crashpoint("snap_fsync")
            if io.exists(cur):
                # Keep the previous snapshot: if this one is ever found not to agree with the
                # log, restore falls back to it instead of folding the whole log.
                io.rename(cur, prev)
            io.rename(tmp, cur)
            crashpoint("snap_rename")
            io.fsync_dir(run_dir)
            crashpoint("snap_dir_fsync")
        except OSError as e:
            raise TraceWriteError(f"writing snapshot in {run_dir} failed ({e})") from e
