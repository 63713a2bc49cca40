"""The write path without durability (ADR 027): records buffered per loop turn, one ``write``
per flush, no header fsyncs, a torn batch cut like a torn line; and the cheap encoder and
record constructor give exactly what the slow ones gave."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sgr_kernel.engine.journal import RunJournal
from sgr_kernel.errors import TraceWriteError
from sgr_kernel.testing.simdisk import FaultyFileIO
from sgr_kernel.trace import Durability, FileTraceStore, OsFileIO, Record, RecordType, _format
from sgr_kernel.trace import base as trace_base
from sgr_kernel.trace.state import RunState

WAL = ("runs", "r1", "wal.jsonl")


def _wal(root: Path) -> bytes:
    return root.joinpath(*WAL).read_bytes()


def _lines(root: Path) -> int:
    return _wal(root).count(b"\n") - 1  # without the header


class _Clock:
    def now(self) -> float:
        return 1.5

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# ------------------------------------------------------------ the writer


def test_none_buffers_until_flush_and_writes_once(tmp_path: Path) -> None:
    io = FaultyFileIO(OsFileIO(), {})
    store = FileTraceStore(tmp_path, fileio=io)
    w = store.create("r1", durability=Durability.NONE)
    writes = io.calls.get("write", 0)
    for i in range(5):
        w.append(RecordType.STEP, {"i": i}, step="s", ts=float(i))
    assert w.pending and _lines(tmp_path) == 0
    w.flush()
    assert not w.pending and _lines(tmp_path) == 5
    assert io.calls["write"] == writes + 1  # five records, one write
    w.append(RecordType.STEP, {"i": 5}, step="s", ts=5.0)
    w.append(RecordType.RUN_STATUS, {"status": "RUNNING"}, ts=6.0, durable=True)
    assert not w.pending and _lines(tmp_path) == 7  # a durable append writes what waits
    w.append(RecordType.STEP, {"i": 7}, step="s", ts=7.0)
    w.close()  # close writes the rest
    assert [r.seq for r in store.read("r1").records] == list(range(8))


def test_sync_and_batch_writers_do_not_buffer(tmp_path: Path) -> None:
    for mode in (Durability.SYNC, Durability.BATCH):
        store = FileTraceStore(tmp_path / mode.value)
        with store.create("r1", durability=mode) as w:
            w.append(RecordType.STEP, {"i": 0}, step="s", ts=0.0)
            assert not w.pending and _lines(tmp_path / mode.value) == 1


def test_buffered_bytes_are_the_unbuffered_bytes(tmp_path: Path) -> None:
    """Seq, chain and offsets are assigned at append: the file is the same either way."""
    logs = {}
    for mode in (Durability.NONE, Durability.SYNC):
        store = FileTraceStore(tmp_path / mode.value)
        with store.create("r1", durability=mode) as w:
            for i in range(20):
                w.append(RecordType.EVENT, {"i": i, "x": "ü" * i}, step="s", ts=i / 3)
            offset = w.offset  # type: ignore[attr-defined]
        raw = _wal(tmp_path / mode.value)
        assert offset == len(raw)
        # Same salt-independent content: strip the chain members, compare the rest.
        logs[mode] = [
            {k: v for k, v in json.loads(line).items() if k not in {"crc", "prev"}}
            for line in raw.splitlines()[1:]
        ]
        assert len(store.read("r1").records) == 20
    assert logs[Durability.NONE] == logs[Durability.SYNC]


def test_none_creates_without_fsyncs_and_sync_with_three(tmp_path: Path) -> None:
    counts = {}
    for mode in (Durability.NONE, Durability.SYNC):
        io = FaultyFileIO(OsFileIO(), {})
        FileTraceStore(tmp_path / mode.value, fileio=io).create("r1", durability=mode).close()
        counts[mode] = (io.calls.get("fsync", 0), io.calls.get("fsync_dir", 0))
    assert counts[Durability.NONE] == (0, 0)
    assert counts[Durability.SYNC] == (1, 2)


def test_encoding_errors_raise_before_anything_is_buffered(tmp_path: Path) -> None:
    store = FileTraceStore(tmp_path)
    with store.create("r1", durability=Durability.NONE) as w:
        w.append(RecordType.EVENT, {"ok": 0}, ts=0)
        with pytest.raises(TypeError):
            w.append(RecordType.EVENT, {"x": object()}, ts=0)
        with pytest.raises(ValueError, match=r"NaN|Out of range"):
            w.append(RecordType.EVENT, {"x": float("nan")}, ts=0)
        cyclic: dict[str, Any] = {}
        cyclic["self"] = cyclic
        with pytest.raises(ValueError, match="circular"):
            w.append(RecordType.EVENT, cyclic, ts=0)
        assert w.append(RecordType.EVENT, {"ok": 1}, ts=0).seq == 1
    assert [r.data for r in store.read("r1").records] == [{"ok": 0}, {"ok": 1}]


def test_a_failed_batch_write_refuses_and_recovery_cuts_the_torn_batch(tmp_path: Path) -> None:
    """A short write of a batch leaves complete lines and a partial one: reopening keeps the
    complete ones and cuts the rest as a torn tail, exactly as for one torn line."""

    class ShortWrite(FaultyFileIO):
        def write(self, fd: int, data: bytes) -> None:
            self._tick("write")
            if self.calls["write"] == 3:  # header, first batch, then this batch: cut short
                os.write(fd, data[: len(data) // 2 + 7])
                raise OSError(errno.ENOSPC, "injected short write")
            self.inner.write(fd, data)

    store = FileTraceStore(tmp_path, fileio=ShortWrite(OsFileIO(), {}))
    w = store.create("r1", durability=Durability.NONE)
    w.append(RecordType.STEP, {"i": 0}, step="s", ts=0.0)
    w.flush()
    for i in range(1, 9):
        w.append(RecordType.STEP, {"i": i}, step="s", ts=float(i))
    with pytest.raises(TraceWriteError, match="nothing after seq 0"):
        w.flush()
    with pytest.raises(TraceWriteError):
        w.append(RecordType.STEP, {"i": 9}, step="s", ts=9.0)
    w.close()
    log, w2 = FileTraceStore(tmp_path).open_append("r1")
    w2.close()
    kept = [r.data["i"] for r in log.records]
    assert kept == list(range(len(kept))) and 1 < len(kept) < 9
    assert log.report.torn_tail and log.report.truncated_bytes > 0


KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from sgr_kernel.trace import Durability, FileTraceStore, RecordType
    w = FileTraceStore(sys.argv[1]).create("r1", durability=Durability.NONE)
    for i in range(int(sys.argv[2])):
        w.append(RecordType.STEP, {"i": i, "pad": "x" * 40}, step="s", ts=float(i))
        if i % 7 == 6:
            w.append(RecordType.RUN_STATUS, {"status": "RUNNING", "i": i}, ts=0.0, durable=True)
            print(w.next_seq, flush=True)  # acknowledged: everything up to here is written
    os.kill(os.getpid(), signal.SIGKILL)  # the records after the last durable one are lost
    """
)


@pytest.mark.slow
def test_kill9_with_none_keeps_every_durable_record(tmp_path: Path) -> None:
    trials = lost = bad = 0
    for n in (3, 10, 29, 50):
        root = tmp_path / str(n)
        out = subprocess.run(
            [sys.executable, "-c", KILLED, str(root), str(n)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == -signal.SIGKILL, out.stderr
        trials += 1
        acked = max((int(x) for x in out.stdout.split()), default=0)
        log, w = FileTraceStore(root).open_append("r1")
        w.close()
        lost += len(log.records) != acked  # all durable ones kept, the buffered rest gone
        bad += [r.seq for r in log.records] != list(range(len(log.records)))
    print(f"FIGURE wal_none_kill9 trials={trials} durable_lost_or_extra={lost} not_prefix={bad}")
    assert lost == bad == 0


# ------------------------------------------------------------ the journal


def _journal(tmp_path: Path, io: FaultyFileIO | None = None) -> RunJournal:
    store = FileTraceStore(tmp_path, fileio=io)
    return RunJournal(store.create("r1", durability=Durability.NONE), RunState(), _Clock())


def test_journal_writes_once_per_loop_turn_before_new_tasks_run(tmp_path: Path) -> None:
    io = FaultyFileIO(OsFileIO(), {})
    journal = _journal(tmp_path, io)
    seen_by_task: list[int] = []

    async def dependent() -> None:
        seen_by_task.append(_lines(tmp_path))

    async def main() -> None:
        before = io.calls["write"]
        journal.append(RecordType.STEP, {"status": "RUNNING"}, step="a")
        journal.append(RecordType.STEP, {"status": "COMMITTED"}, step="a", deferred=True)
        journal.sync()  # the commit barrier: released, not yet written
        task = asyncio.ensure_future(dependent())  # started after the commit, this turn
        assert _lines(tmp_path) == 0
        await task
        assert io.calls["write"] == before + 1  # one write for the turn

    asyncio.run(main())
    assert seen_by_task == [2]  # the dependent ran after the commit was written
    journal.writer.close()


def test_journal_without_a_loop_writes_at_once(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.append(RecordType.STEP, {"status": "RUNNING"}, step="a")
    assert _lines(tmp_path) == 1
    journal.writer.close()


def test_journal_flushes_before_listeners_see_a_record(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    on_disk: list[int] = []
    journal.subscribe(lambda rec: on_disk.append(_lines(tmp_path)))

    async def main() -> None:
        journal.append(RecordType.STEP, {"status": "RUNNING"}, step="a")
        journal.append(RecordType.STEP, {"status": "COMMITTED"}, step="a", deferred=True)
        journal.sync()

    asyncio.run(main())
    assert on_disk == [1, 2]
    journal.writer.close()


def test_a_failed_turn_flush_makes_the_next_append_raise(tmp_path: Path) -> None:
    io = FaultyFileIO(OsFileIO(), {"write": (2, errno.EIO)})  # the header, then the turn
    journal = _journal(tmp_path, io)

    async def main() -> None:
        journal.append(RecordType.STEP, {"status": "RUNNING"}, step="a")
        await asyncio.sleep(0)  # the turn ends: the flush fails in its callback
        with pytest.raises(TraceWriteError):
            journal.append(RecordType.RUN_STATUS, {"status": "COMPLETED"}, durable=True)

    asyncio.run(main())
    assert journal.state.status.value == "CREATED"  # the run never looks COMPLETED
    journal.writer.close()


# ------------------------------------------------------------ encoder and records


AWKWARD: list[Any] = [
    {"b": 1, "a": [1, 2.5, -0.0, 1e-07, 1e16, 12345678901234567890], "c": None},
    {"text": 'naïve 東京 🚀 \u2028 \x00 "q" \\', "t": True, "f": False},
    {"nested": {"z": {"y": {"x": []}}}, "empty": {}},
    {"float": 0.1 + 0.2, "neg": -1.5e-300, "int": -(2**70)},
]


@pytest.mark.parametrize("value", AWKWARD)
def test_canonical_is_byte_identical_to_json_dumps(value: Any) -> None:
    want = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()
    assert _format.canonical(value) == want


def test_records_are_built_the_cheap_way_and_behave_like_pydantic_ones() -> None:
    assert trace_base.logged_record is trace_base._fast_record  # the fast path is live here
    rec, _ = _format.encode_record(
        seq=3, ts=1.5, type=RecordType.STEP, step="s", data={"k": 1}, prev=0
    )
    slow = Record.model_construct(
        v=1, seq=3, ts=1.5, type=RecordType.STEP, step="s", data={"k": 1}, crc=rec.crc
    )
    assert rec == slow and rec.model_dump(mode="json") == slow.model_dump(mode="json")
    copy = rec.model_copy(update={"data": {"k": 2}})
    assert copy.data == {"k": 2} and rec.data == {"k": 1}
    assert rec.model_fields_set == slow.model_fields_set
    with pytest.raises(ValueError):  # still frozen
        rec.seq = 4  # type: ignore[misc]


@pytest.mark.parametrize("step", [None, "s", "ステップ", 'q"uote\\\n', "\u2028"])
@pytest.mark.parametrize("ts", [0.0, 1.5, 1796157793.8864956, 1e-07, 1e22, 0, 3])
def test_record_lines_are_the_canonical_json_of_the_whole_record(step: Any, ts: Any) -> None:
    """The envelope written by hand is byte for byte canonical(); so is the fallback."""
    data = {"z": [1, 2.5, None], "a": {"ü": "東京"}, "status": "RUNNING"}
    for rtype in RecordType:
        _, line = _format.encode_record(seq=12, ts=ts, type=rtype, step=step, data=data, prev=99)
        body = {
            "data": data,
            "prev": 99,
            "seq": 12,
            "step": step,
            "ts": ts,
            "type": rtype.value,
            "v": 1,
        }
        crc = _format.self_valid(line[:-1])
        assert crc is not None
        assert line == b'{"crc":%d,' % crc + _format.canonical(body)[1:] + b"\n"


def test_a_non_finite_timestamp_is_refused() -> None:
    with pytest.raises(ValueError):
        _format.encode_record(
            seq=0, ts=float("inf"), type=RecordType.EVENT, step=None, data={}, prev=0
        )


def test_a_held_journal_writes_once_on_release(tmp_path: Path) -> None:
    io = FaultyFileIO(OsFileIO(), {})
    journal = _journal(tmp_path, io)

    async def main() -> None:
        journal.hold()  # the scheduler's turn
        before = io.calls["write"]
        for i in range(5):
            journal.append(RecordType.STEP, {"status": "RUNNING", "i": i}, step=f"s{i}")
        await asyncio.sleep(0)  # no flush was queued: nothing is written behind its back
        assert _lines(tmp_path) == 0
        journal.release()
        assert _lines(tmp_path) == 5 and io.calls["write"] == before + 1

    asyncio.run(main())
    journal.writer.close()


def test_the_fast_record_constructor_steps_aside_when_pydantic_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def different(*args: Any) -> Record:
        rec = trace_base._slow_record(*args)
        object.__setattr__(rec, "__pydantic_extra__", {})  # not what model_construct builds
        return rec

    monkeypatch.setattr(trace_base, "_fast_record", different)
    assert trace_base._pick_constructor() is trace_base._slow_record


def test_the_encoder_without_the_c_accelerator_writes_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = _format._make_encoder()
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    plain = _format._make_encoder()
    for value in AWKWARD:
        assert plain(value) == fast(value)
    with pytest.raises(ValueError):
        plain({"x": float("nan")})


def test_the_file_layer_finishes_a_write_the_os_cut_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``os.write`` may write less than asked (a signal, a full pipe): the rest follows, in
    order; a write of nothing is an error, never a spin."""
    from sgr_kernel.trace import _fileio

    real = os.write
    sizes: list[int] = []

    def short(fd: int, data: Any) -> int:
        sizes.append(len(data))
        return real(fd, bytes(data)[:3])  # at most 3 bytes a call

    io = OsFileIO()
    path = tmp_path / "f"
    fd = io.open_append(path)
    monkeypatch.setattr(_fileio.os, "write", short)
    io.write(fd, b"0123456789")
    monkeypatch.setattr(_fileio.os, "write", lambda fd, data: 0)
    with pytest.raises(OSError, match="write returned 0"):
        io.write(fd, b"x")
    monkeypatch.undo()
    io.close(fd)
    assert path.read_bytes() == b"0123456789" and sizes == [10, 7, 4, 1]
