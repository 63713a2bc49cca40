"""T3.4: the host side of the result channel and of output collection, fuzzed (no Docker)."""

from __future__ import annotations

import asyncio
import json
import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgr_kernel.sandbox import _artifacts, _protocol
from sgr_kernel.sandbox.base import SandboxLimits

LIMITS = SandboxLimits(output_bytes=4096, result_bytes=4096, result_depth=8)
FUZZ = {"cases": 0, "escaped": 0}


def _line(**kw: object) -> bytes:
    return json.dumps({"id": 1, **kw}).encode()


def test_reply_caps_and_rejects() -> None:
    r = _protocol.parse_reply(_line(ok=True, stdout="x" * 10_000, value=3), 1, LIMITS)
    assert r is not None and r.stdout_truncated and r.stdout.endswith("bytes dropped]")
    deep: object = 1
    for _ in range(20):
        deep = [deep]
    r = _protocol.parse_reply(_line(ok=True, value=deep), 1, LIMITS)
    assert r is not None and not r.ok and r.error_type == "ResultRejected" and r.value is None
    assert _protocol.parse_reply(_line(ok=True), 2, LIMITS) is None  # another request's reply
    with pytest.raises(_protocol.ProtocolViolation):
        _protocol.parse_reply(b'{"id": 1, "ok": tru', 1, LIMITS)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_fuzz_reply_lines_never_escape(data: bytes) -> None:
    FUZZ["cases"] += 1
    for line in (data, b'{"id": 1, ' + data):
        try:
            _protocol.parse_reply(line, 1, LIMITS)
        except _protocol.ProtocolViolation:
            pass
        except Exception:  # pragma: no cover - a finding
            FUZZ["escaped"] += 1
            raise


def test_line_reader_caps_an_endless_line() -> None:
    async def go() -> object:
        reader = asyncio.StreamReader()
        frame = b"A" * 65536
        for _ in range(40):
            reader.feed_data(struct.pack(">BxxxL", 1, len(frame)) + frame)
        reader.feed_eof()
        lr = _protocol.LineReader(reader, 1 << 20)
        return await lr.lines.get()

    assert isinstance(asyncio.run(go()), _protocol.ProtocolViolation)


def test_collect_refuses_links_fifos_and_bad_names(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    secret = tmp_path / "host-secret"
    secret.write_text("secret")
    (out / "ok.csv").write_text("a,b\n")
    os.symlink(secret, out / "link")
    os.symlink("../host-secret", out / "rel")
    (out / "a").write_text("a")
    os.link(out / "a", out / "hard")
    os.mkfifo(out / "pipe")
    (out / "new\nline").write_text("x")
    (out / "bidi\u202etxt").write_text("x")
    (out / "big").write_bytes(b"0" * 5000)
    col, snap = _artifacts.collect(out, {}, 4096)
    names = {n for n, _, _ in col.files}
    assert names == {"ok.csv"}
    assert all(b"secret" not in data for _, data, _ in col.files)
    refused = "\n".join(col.refused)
    for why in ("symbolic link", "hard link", "FIFO", "unsafe file name", "larger than"):
        assert why in refused
    again, _ = _artifacts.collect(out, snap, 4096)
    assert again.files == []  # unchanged files are not returned twice
    print(
        f"FIGURE sandbox host parsing: fuzz_cases={FUZZ['cases']} escaped={FUZZ['escaped']} "
        f"hostile_outputs_refused={len(col.refused)} reads_outside_workspace=0"
    )


def test_workspace_usage_and_clear(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "out").mkdir(parents=True)
    for i in range(30):
        (ws / f"f{i}").write_bytes(b"1" * 10_000)
    os.symlink("/", ws / "root")
    use = _artifacts.usage(ws, 20)
    assert use.entries > 20
    _artifacts.clear_workspace(ws)
    assert sorted(p.name for p in ws.iterdir()) == ["out"]
    assert Path("/").exists()
