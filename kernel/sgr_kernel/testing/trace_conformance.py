"""The trace-store conformance suite: every backend must pass it (docs/trace.md).

Subclass :class:`TraceStoreConformance` in a test module and implement ``make_store``::

    class TestFileStore(TraceStoreConformance):
        def make_store(self, root: Path) -> TraceStore:
            return FileTraceStore(root)

pytest collects the inherited ``test_*`` methods (each takes pytest's ``tmp_path``).
``CAPABILITIES`` counts them, for the figure line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sgr_kernel.errors import InvalidRunIdError, RunNotFoundError, TraceError, TraceLockedError
from sgr_kernel.trace.base import Durability, RecordType, TraceStore

__all__ = ["CAPABILITIES", "TraceStoreConformance"]


class TraceStoreConformance:
    """Behaviour every :class:`TraceStore` must show. Not collected itself (no ``Test``)."""

    def make_store(self, root: Path) -> TraceStore:
        """A fresh, empty store rooted at ``root``."""
        raise NotImplementedError

    def test_round_trip(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        with store.create("r1", durability=Durability.NONE) as w:
            a = w.append(RecordType.PLAN, {"plan": {"steps": [1, 2]}}, ts=1.5, durable=True)
            b = w.append(RecordType.STEP, {"status": "running"}, step="s1", ts=2.0)
        log = store.read("r1")
        assert log.run_id == "r1"
        assert [(r.seq, r.type, r.step, r.ts, r.data) for r in log.records] == [
            (0, RecordType.PLAN, None, 1.5, {"plan": {"steps": [1, 2]}}),
            (1, RecordType.STEP, "s1", 2.0, {"status": "running"}),
        ]
        assert log.records == (a, b)
        assert not log.report.torn_tail

    def test_seq_is_gap_free_and_ordered(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        with store.create("r1", durability=Durability.NONE) as w:
            assert w.next_seq == 0
            for i in range(50):
                assert w.append(RecordType.EVENT, {"i": i}, ts=float(i)).seq == i
            assert w.next_seq == 50
        assert [r.data["i"] for r in store.read("r1").records] == list(range(50))

    def test_runs_are_isolated(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        with store.create("a") as wa, store.create("b") as wb:
            wa.append(RecordType.EVENT, {"run": "a"}, ts=0)
            wb.append(RecordType.EVENT, {"run": "b"}, ts=0)
            wb.append(RecordType.EVENT, {"run": "b"}, ts=1)
        assert [r.data["run"] for r in store.read("a").records] == ["a"]
        assert [r.data["run"] for r in store.read("b").records] == ["b", "b"]

    def test_list_runs_oldest_first_and_exists(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        assert store.list_runs() == []
        for name in ("zeta", "alpha", "mid"):
            store.create(name).close()
        assert store.list_runs() == ["zeta", "alpha", "mid"]
        assert store.exists("alpha")
        assert not store.exists("nope")

    def test_reopen_and_append(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        with store.create("r1") as w:
            w.append(RecordType.EVENT, {"n": 0}, ts=0, durable=True)
        log, w2 = store.open_append("r1")
        with w2:
            assert [r.seq for r in log.records] == [0]
            assert w2.next_seq == 1
            w2.append(RecordType.EVENT, {"n": 1}, ts=1, durable=True)
        assert [r.data["n"] for r in store.read("r1").records] == [0, 1]

    def test_artifacts_are_content_addressed_and_idempotent(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        store.create("r1").close()
        ref1 = store.put_artifact("r1", b"\x00bytes\xff", name="a.bin")
        ref2 = store.put_artifact("r1", b"\x00bytes\xff", name="again.bin", media_type="x/y")
        assert ref1.sha256 == ref2.sha256 and ref1.size == 7
        assert ref2.name == "again.bin" and ref2.media_type == "x/y"
        assert store.get_artifact("r1", ref1.sha256) == b"\x00bytes\xff"
        with pytest.raises(KeyError):
            store.get_artifact("r1", "0" * 64)

    def test_large_payload(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        big = {"blob": "x" * 2_000_000, "items": list(range(10_000))}
        with store.create("r1", durability=Durability.NONE) as w:
            w.append(RecordType.RESULT, big, step="s", ts=0)
        assert store.read("r1").records[0].data == big

    def test_unicode_and_awkward_values(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        data = {"text": 'naïve 東京 🚀 \u2028 line\nbreak "quoted" \\', "n": None, "f": -0.5}
        with store.create("r1") as w:
            w.append(RecordType.EVENT, data, step="ステップ", ts=0)
        rec = store.read("r1").records[0]
        assert rec.data == data and rec.step == "ステップ"

    def test_non_json_data_is_refused_before_writing(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        with store.create("r1") as w:
            with pytest.raises((TypeError, ValueError)):
                w.append(RecordType.EVENT, {"x": object()}, ts=0)
            with pytest.raises(ValueError):
                w.append(RecordType.EVENT, {"x": float("nan")}, ts=0)
            assert w.append(RecordType.EVENT, {"ok": 1}, ts=0).seq == 0
        assert len(store.read("r1").records) == 1

    def test_single_writer(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        w = store.create("r1")
        with pytest.raises(TraceLockedError):
            store.open_append("r1")
        store.read("r1")  # readers never need the lock
        w.close()
        w.close()  # idempotent
        _, w2 = store.open_append("r1")
        w2.close()

    def test_closed_writer_refuses(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        w = store.create("r1")
        w.close()
        with pytest.raises(TraceError):
            w.append(RecordType.EVENT, {}, ts=0)

    def test_missing_run_and_bad_ids(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        with pytest.raises(RunNotFoundError):
            store.read("absent")
        with pytest.raises(RunNotFoundError):
            store.open_append("absent")
        for bad in ("", "a/b", "..", "a..b", "x\x00y", ".hidden", "-x", "a" * 200):
            with pytest.raises(InvalidRunIdError):
                store.create(bad)
        store.create("ok").close()
        with pytest.raises(TraceError):
            store.create("ok")

    def test_resume_after_snapshot_anchor(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        with store.create("r1") as w:
            recs = [w.append(RecordType.EVENT, {"i": i}, ts=0) for i in range(5)]
        assert all(r.crc is not None for r in recs)
        anchor = recs[2]
        assert anchor.crc is not None
        log, w2 = store.open_append_after("r1", seq=2, crc=anchor.crc)
        with w2:
            assert log.report.snapshot_seq == 2
            assert [r.seq for r in log.records] == [3, 4]
            assert w2.next_seq == 5
        log, w3 = store.open_append_after("r1", seq=2, crc=anchor.crc ^ 1)
        with w3:
            assert log.report.snapshot_seq is None
            assert [r.seq for r in log.records] == [0, 1, 2, 3, 4]

    def test_holder_and_log_stamp(self, tmp_path: Path) -> None:
        """What callers may ask instead of reading the run directory: no other process holds
        a run this process writes or has let go of; a log stamp, when the backend has one,
        moves with the log."""
        store = self.make_store(tmp_path)
        with store.create("r1") as w:
            w.append(RecordType.EVENT, {"i": 0}, ts=0, durable=True)
            assert store.holder("r1") is None
            before = store.log_stamp("r1")
            w.append(RecordType.EVENT, {"i": 1}, ts=1, durable=True)
            after = store.log_stamp("r1")
        assert store.holder("r1") is None
        assert (before is None) == (after is None)
        assert before is None or before != after


CAPABILITIES = sorted(n for n in vars(TraceStoreConformance) if n.startswith("test_"))
"""Names of the capability tests, for the figure line."""
