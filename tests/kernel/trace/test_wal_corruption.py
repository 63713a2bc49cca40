"""T1.5: corruption fuzz. Every header-byte bit flip, sampled payload flips, every
truncation offset, duplicated / swapped records and records from another run (other salt).
No damaged record may be accepted, recovery never crashes, and tail vs mid-log damage is
classified correctly (a negative control shows the harness notices a missing CRC check).
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from sgr_kernel.errors import TraceCorruptError
from sgr_kernel.testing.simdisk import SimDisk
from sgr_kernel.trace import Durability, FileTraceStore, RecordType, _format

RUN = "golden"


def golden(root: Path, run_id: str = RUN) -> bytes:
    store = FileTraceStore(root)
    with store.create(run_id, durability=Durability.NONE) as w:
        w.append(RecordType.PLAN, {"plan": {"steps": ["a", "b"]}}, ts=1.0)
        w.append(RecordType.STEP, {"status": "running", "attempt": 1}, step="a", ts=2.0)
        w.append(RecordType.INTENT, {"kind": "sandbox", "key": "k1", "n": 0}, step="a", ts=3.0)
        w.append(RecordType.RESULT, {"ok": True, "response": "héllo ✓"}, step="a", ts=4.0)
        w.append(RecordType.STEP, {"status": "committed", "output": {"x": 1}}, step="a", ts=5.0)
        w.append(RecordType.RUN_STATUS, {"status": "completed"}, ts=6.0)
    return (store.run_dir(run_id) / "wal.jsonl").read_bytes()


@dataclass
class Tally:
    mutations: int = 0
    accepted: int = 0
    crashes: int = 0
    misclassified: int = 0
    tails: int = 0
    mids: int = 0


class Fuzzer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.orig = golden(root / "orig")
        self.lines = self.orig.split(b"\n")[:-1]  # header + records, no trailing empty
        self.records = FileTraceStore(root / "orig").read(RUN).records
        # The mutated logs live on an in-memory disk: thousands of them, no real I/O.
        self.disk = SimDisk()
        self.store = FileTraceStore(root / "work", fileio=self.disk)
        self.wal = self.store.run_dir(RUN) / "wal.jsonl"
        self.tally = Tally()

    def check(self, mutated: bytes, *, recover: bool = False) -> None:
        if mutated == self.orig:
            return
        t = self.tally
        t.mutations += 1
        # Ground truth from the mutation itself: damage is mid-log iff an untouched
        # original record line still follows the first line that differs.
        got_lines = mutated.split(b"\n")
        complete, partial = got_lines[:-1], got_lines[-1]
        first = next(
            (i for i, ln in enumerate(complete) if i >= len(self.lines) or ln != self.lines[i]),
            len(complete),
        )
        damaged = first < len(complete) or partial != b""
        originals = set(self.lines[1:])
        expect_mid = any(ln in originals for ln in complete[first + 1 :]) if damaged else False
        self.disk.put_file(self.wal, mutated)
        try:
            if recover:
                log, writer = self.store.open_append(RUN)
                writer.close()
            else:
                log = self.store.read(RUN)
        except TraceCorruptError:
            t.mids += 1
            t.misclassified += not expect_mid
            return
        except Exception:
            t.crashes += 1
            return
        t.tails += damaged
        t.misclassified += expect_mid
        for rec in log.records:
            if rec.seq >= len(self.records) or rec != self.records[rec.seq]:
                t.accepted += 1
                break


def run_fuzz(root: Path, payload_samples: int = 24) -> Tally:
    fz = Fuzzer(root)
    rng = random.Random(20240601)
    offset = 0
    for idx, line in enumerate(fz.lines):
        start, end = offset, offset + len(line) + 1
        offset = end
        data_at = line.find(b'"data":')
        data_end = line.find(b',"prev":')
        if idx == 0 or data_at < 0:
            header = list(range(start, end))  # the WAL header line: every byte
            payload: list[int] = []
        else:
            header = [*range(start, start + data_at + 7), *range(start + data_end, end)]
            payload = rng.sample(
                range(start + data_at + 7, start + data_end),
                k=min(payload_samples, data_end - data_at - 7),
            )
        for pos in header + payload:
            for bit in range(8):
                b = bytearray(fz.orig)
                b[pos] ^= 1 << bit
                fz.check(bytes(b))
    for cut in range(len(fz.orig)):
        fz.check(fz.orig[:cut])
    body = fz.lines
    other = golden(root / "other").split(b"\n")[:-1]  # same records, another salt
    for i in range(1, len(body)):
        dup = [*body[: i + 1], body[i], *body[i + 1 :]]
        fz.check(b"\n".join(dup) + b"\n")
        if i + 1 < len(body):
            swapped = [*body[:i], body[i + 1], body[i], *body[i + 2 :]]
            fz.check(b"\n".join(swapped) + b"\n")
        foreign = [*body[:i], other[i], *body[i + 1 :]]
        fz.check(b"\n".join(foreign) + b"\n")
        inserted = [*body[:i], other[i], *body[i:]]
        fz.check(b"\n".join(inserted) + b"\n")
    # Torn tails really get cut on open_append (a sample of truncation offsets).
    for cut in range(len(fz.lines[0]) + 1, len(fz.orig), 37):
        fz.check(fz.orig[:cut], recover=True)
    return fz.tally


def test_corruption_fuzz(tmp_path: Path) -> None:
    t = run_fuzz(tmp_path)
    print(
        f"FIGURE corruption mutations={t.mutations} accepted={t.accepted} crashes={t.crashes} "
        f"misclassified={t.misclassified} tail={t.tails} mid_log={t.mids}"
    )
    assert t.mutations > 3000
    assert t.accepted == t.crashes == t.misclassified == 0
    assert t.tails > 0 and t.mids > 0


def test_negative_control_without_crc_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def trusting(line: bytes) -> int | None:  # a build that parses the crc but never checks it
        m = _format._CRC_PREFIX.match(line)
        return int(m.group(1)) if m else None

    monkeypatch.setattr(_format, "self_valid", trusting)
    t = run_fuzz(tmp_path, payload_samples=8)
    print(
        "FIGURE corruption_negative_control crc_check=off "
        f"mutations={t.mutations} accepted={t.accepted}"
    )
    assert t.accepted > 0  # the harness bites


def test_torn_tail_is_moved_aside(tmp_path: Path) -> None:
    orig = golden(tmp_path)
    store = FileTraceStore(tmp_path)
    wal = store.run_dir(RUN) / "wal.jsonl"
    wal.write_bytes(orig[:-10])
    log, w = store.open_append(RUN)
    w.close()
    assert log.report.torn_tail and log.report.records == 5
    kept = wal.read_bytes()
    aside = wal.with_name(f"wal.jsonl.torn-{len(kept)}").read_bytes()
    assert kept + aside == orig[:-10]


def test_mid_log_error_names_seq_and_line(tmp_path: Path) -> None:
    orig = golden(tmp_path)
    store = FileTraceStore(tmp_path)
    wal = store.run_dir(RUN) / "wal.jsonl"
    lines = orig.split(b"\n")
    lines[3] = lines[3].replace(b"sandbox", b"sandboX")  # record seq 2, file line 4
    wal.write_bytes(b"\n".join(lines))
    with pytest.raises(TraceCorruptError) as ei:
        store.open_append(RUN)
    assert ei.value.seq == 2 and ei.value.line == 4
    assert "seq=2" in str(ei.value)
    assert wal.read_bytes() == b"\n".join(lines)  # refused, not modified
    shutil.rmtree(tmp_path / "runs")
