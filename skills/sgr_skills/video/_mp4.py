"""Read an MP4's video track facts straight from its boxes (no ffprobe): codec, size,
frame count and duration. Enough to check what the encoder wrote."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Mp4Error", "Mp4Info", "read_mp4"]

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


class Mp4Error(ValueError):
    """The file is not an MP4 with a video track."""


@dataclass(frozen=True)
class Mp4Info:
    brand: str
    codec: str
    width: int
    height: int
    frames: int
    duration_s: float


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in ``data[start:end]``."""
    out = []
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        head = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[i + 8 : i + 16])
            head = 16
        elif size == 0:
            size = end - i
        if size < head or i + size > end:
            raise Mp4Error(f"box {kind!r} at {i} overruns the file")
        out.append((kind, i + head, i + size))
        i += size
    return out


def _walk(data: bytes, start: int, end: int, found: dict[bytes, list[tuple[int, int]]]) -> None:
    for kind, lo, hi in _boxes(data, start, end):
        found.setdefault(kind, []).append((lo, hi))
        if kind in _CONTAINERS:
            _walk(data, lo, hi, found)


def read_mp4(path: Path) -> Mp4Info:
    """The first video track's facts; :class:`Mp4Error` when there is none."""
    data = path.read_bytes()
    found: dict[bytes, list[tuple[int, int]]] = {}
    _walk(data, 0, len(data), found)
    if b"ftyp" not in found or b"moov" not in found:
        raise Mp4Error(f"{path.name} has no ftyp/moov box: not an MP4")
    lo, _ = found[b"ftyp"][0]
    brand = data[lo : lo + 4].decode("ascii", "replace")
    tracks = []
    for (h_lo, _), (s_lo, _), (z_lo, _), (m_lo, _) in zip(
        found.get(b"hdlr", []),
        found.get(b"stsd", []),
        found.get(b"stsz", []),
        found.get(b"mdhd", []),
        strict=False,
    ):
        if data[h_lo + 8 : h_lo + 12] == b"vide":
            tracks.append((s_lo, z_lo, m_lo))
    if not tracks:
        raise Mp4Error(f"{path.name} has no video track")
    s_lo, z_lo, m_lo = tracks[0]
    entry = s_lo + 8  # version/flags, entry count
    codec = data[entry + 4 : entry + 8].decode("ascii", "replace")
    width, height = struct.unpack(">HH", data[entry + 8 + 24 : entry + 8 + 28])
    (frames,) = struct.unpack(">I", data[z_lo + 8 : z_lo + 12])  # version/flags, size, count
    if data[m_lo] == 1:
        timescale, duration = struct.unpack(">IQ", data[m_lo + 20 : m_lo + 32])
    else:
        timescale, duration = struct.unpack(">II", data[m_lo + 12 : m_lo + 20])
    return Mp4Info(brand, codec, width, height, frames, duration / timescale if timescale else 0.0)
