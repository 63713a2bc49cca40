"""The on-disk WAL format: encoding records and scanning a log (pure functions on bytes).

A WAL is one header line, then one record per line, each canonical JSON (sorted keys,
compact, UTF-8) whose first key is ``crc``::

    {"crc":N,"created_ns":T,"run_id":"r1","salt":"<32 hex>","wal":1}
    {"crc":N,"data":{...},"prev":P,"seq":0,"step":null,"ts":1.5,"type":"plan","v":1}

``crc`` is ``zlib.crc32`` of the line with the ``"crc":N,`` member removed (the *body*).
``prev`` is the previous record's ``crc`` (for seq 0, ``crc32`` of the header's salt), so
the CRCs form a chain: a line is *self-valid* when its own CRC checks, and *in chain* when
its ``prev`` and ``seq`` follow the line before. Self-validity lets recovery tell a torn
tail (nothing self-valid after the first bad line) from mid-log damage (something is).
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sgr_kernel.trace.base import TRACE_VERSION, Record, RecordType, logged_record

__all__ = [
    "WAL_FORMAT",
    "Scan",
    "canonical",
    "chain_seed",
    "encode_header",
    "encode_line",
    "encode_record",
    "scan",
    "seal",
    "self_valid",
    "unseal",
]

WAL_FORMAT = 1
_CRC_PREFIX = re.compile(rb'\{"crc":(0|[1-9][0-9]{0,9}),')
_TYPE_OF = {t.value: t for t in RecordType}
_TYPES = frozenset(_TYPE_OF)


def _refuse(obj: Any) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _make_encoder() -> Callable[[Any], str]:
    """The canonical encoder (to text), built once: ``json.dumps`` with these options builds a
    new encoder object on every call, which costs more than encoding a small record."""
    c_make = getattr(json.encoder, "c_make_encoder", None)
    if c_make is None:  # an interpreter without the C accelerator: the plain, slower path
        return lambda obj: json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    # No circular-reference markers (None): a cycle hits the recursion limit instead, which
    # encode() reports as ValueError, as json.dumps would. allow_nan=False as above.
    enc = c_make(None, _refuse, json.encoder.encode_basestring, None, ":", ",", True, False, False)
    join = "".join

    def encode(obj: Any) -> str:
        try:
            return join(enc(obj, 0))
        except RecursionError:
            raise ValueError("nested too deep or circular: not JSON data") from None

    return encode


_canonical_text = _make_encoder()


def canonical(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8, no NaN (so every reader agrees)."""
    return _canonical_text(obj).encode()


def _seal(body: bytes) -> tuple[int, bytes]:
    """Prefix a canonical object with its CRC member; returns (crc, line with newline)."""
    crc = zlib.crc32(body)
    return crc, b'{"crc":%d,' % crc + body[1:] + b"\n"


def seal(obj: Mapping[str, Any]) -> bytes:
    """One self-checking canonical JSON line for ``obj`` (which must not have a ``crc`` key)."""
    return _seal(canonical(obj))[1]


def unseal(buf: bytes) -> dict[str, Any] | None:
    """The object of a :func:`seal` line (without ``crc``), or None when damaged."""
    line = buf[:-1] if buf.endswith(b"\n") else None
    if line is None or self_valid(line) is None:
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    obj.pop("crc", None)
    return obj


def chain_seed(salt: str) -> int:
    """The ``prev`` of record 0: binds the chain to this run's random salt."""
    return zlib.crc32(salt.encode())


def encode_header(run_id: str, salt: str, created_ns: int) -> bytes:
    """The WAL's first line."""
    body = canonical({"created_ns": created_ns, "run_id": run_id, "salt": salt, "wal": 1})
    return _seal(body)[1]


def encode_record(
    *,
    seq: int,
    ts: float,
    type: RecordType,
    step: str | None,
    data: Mapping[str, Any],
    prev: int,
) -> tuple[Record, bytes]:
    """Encode one record; returns the :class:`Record` (with its ``crc``) and its line."""
    crc, payload, line = encode_line(seq, ts, type, step, data, prev)
    return logged_record(seq, ts, type, step, payload, crc), line


def encode_line(  # noqa: PLR0917 (positional: the write path's cheapest call)
    seq: int,
    ts: float,
    type: RecordType,
    step: str | None,
    data: Mapping[str, Any],
    prev: int,
    data_json: str | None = None,
) -> tuple[int, dict[str, Any], bytes]:
    """Encode one record without building a :class:`Record`: ``(crc, data as logged, line)``.
    ``data_json``: ``data``'s canonical JSON, when the caller built it from a template."""
    payload = dict(data)
    if ts.__class__ is float and _isfinite(ts) and (step is None or step.__class__ is str):
        # The envelope's keys are fixed and already in sorted order: only ``data`` needs the
        # encoder. Byte for byte what canonical() gives for the whole object (a test pins it).
        # ``rest`` is the body without its opening brace, whose CRC is folded in as a seed.
        memo = _TS_MEMO[0]
        if memo[0] is not ts:  # records of one turn share their time (the same object)
            memo = _TS_MEMO[0] = (ts, _float_repr(ts))
        rest = (
            _ENVELOPE
            % (
                _canonical_text(payload) if data_json is None else data_json,
                prev,
                seq,
                "null" if step is None else _quote(step),
                memo[1],
                _TYPE_TEXT[type],
                TRACE_VERSION,
            )
        ).encode()
    else:
        obj = {
            "data": payload,
            "prev": prev,
            "seq": seq,
            "step": step,
            "ts": ts,
            "type": type._value_,
            "v": TRACE_VERSION,
        }
        rest = canonical(obj)[1:]
    crc = zlib.crc32(rest, _OPEN_BRACE_CRC)
    return crc, payload, b'{"crc":%d,%b\n' % (crc, rest)


def launch_json(attempt: int, elapsed_s: float) -> str | None:
    """The canonical JSON of a launch's data, ``{"status": "RUNNING", "attempt": attempt,
    "elapsed_s": elapsed_s}``, from a template: the generic encoder sorts and dispatches on
    every key, and launches and commits are nearly every record a run writes. None unless
    ``attempt`` is an int and ``elapsed_s`` a finite float (a test pins the templates to
    :func:`canonical`)."""
    if attempt.__class__ is int and elapsed_s.__class__ is float and _isfinite(elapsed_s):
        return _LAUNCH % (attempt, _float_repr(elapsed_s))
    return None


def commit_json(attempt: int, output: Any) -> str | None:
    """The canonical JSON of a commit's data, ``{"status": "COMMITTED", "attempt": attempt,
    "output": output}`` (``output`` encoded as any data is); None unless ``attempt`` is an
    int. Raises as :func:`canonical` does for an output that is not JSON data."""
    if attempt.__class__ is int:
        return _COMMIT % (attempt, _canonical_text(output))
    return None


_LAUNCH = '{"attempt":%d,"elapsed_s":%s,"status":"RUNNING"}'
_COMMIT = '{"attempt":%d,"output":%s,"status":"COMMITTED"}'
_TS_MEMO: list[tuple[object, str]] = [(None, "")]
"""The last timestamp encoded and its text: the float's shortest ``repr`` is ~0.45 µs, and a
turn's records share one. Keyed by identity (``-0.0 == 0.0``); the pair is swapped whole, so
threads writing other runs at once can only miss it."""
_TYPE_TEXT = {t: t.value for t in RecordType}
_ENVELOPE = '"data":%s,"prev":%d,"seq":%d,"step":%s,"ts":%s,"type":"%s","v":%d}'
_OPEN_BRACE_CRC = zlib.crc32(b"{")
_quote = json.encoder.encode_basestring
_float_repr = float.__repr__
_isfinite = math.isfinite


def self_valid(line: bytes) -> int | None:
    """The line's CRC if it checks (regardless of its place in the chain), else None."""
    m = _CRC_PREFIX.match(line)
    if m is None:
        return None
    crc = int(m.group(1))
    return crc if zlib.crc32(b"{" + line[m.end() :]) == crc else None


@dataclass(frozen=True)
class Scan:
    """What a scan of a WAL's bytes found.

    Attributes:
        salt: The header's salt (None when the header is missing or torn).
        created_ns: The header's creation time in ns (0 when unknown).
        records: The valid prefix, in order.
        good_end: Byte offset just past the valid prefix (where the next line goes).
        last_crc: CRC the next record must carry as ``prev`` (None without a header).
        next_seq: The seq the next appended record gets.
        damage_line: 1-based line number of the first bad line, None when all is well.
        damage_seq: The seq that line should have had (None for the header).
        reason: Why the first bad line was refused.
        mid_log: A self-valid line follows the damage (so it is not a torn tail).
    """

    salt: str | None
    created_ns: int
    records: list[Record]
    good_end: int
    last_crc: int | None
    next_seq: int = 0
    damage_line: int | None = None
    damage_seq: int | None = None
    reason: str | None = None
    mid_log: bool = False


def _parse_header(line: bytes, run_id: str) -> tuple[str, int] | str:
    if self_valid(line) is None:
        return "header checksum mismatch"
    try:
        obj = json.loads(line)
    except ValueError:
        return "header is not JSON"
    if not isinstance(obj, dict) or obj.get("wal") != WAL_FORMAT:
        return f"unsupported WAL format {obj.get('wal') if isinstance(obj, dict) else obj!r}"
    if obj.get("run_id") != run_id:
        return f"header names run {obj.get('run_id')!r}, not {run_id!r}"
    salt, created = obj.get("salt"), obj.get("created_ns", 0)
    if not isinstance(salt, str) or not isinstance(created, int):
        return "header fields malformed"
    return salt, created


def _parse_record(line: bytes, seq: int, prev: int) -> tuple[Record, int] | str:
    crc = self_valid(line)
    if crc is None:
        return "checksum mismatch"
    try:
        obj = json.loads(line)
    except ValueError:
        return "not JSON"
    if not isinstance(obj, dict):
        return "not an object"
    if obj.get("v") != TRACE_VERSION:
        return f"unsupported record version {obj.get('v')!r}"
    if obj.get("prev") != prev:
        return "out of chain (prev does not match the record before)"
    if obj.get("seq") != seq:
        return f"expected seq {seq}, found {obj.get('seq')!r}"
    typ, step, ts, data = obj.get("type"), obj.get("step"), obj.get("ts"), obj.get("data")
    if (
        typ not in _TYPES
        or not (step is None or isinstance(step, str))
        or not isinstance(ts, int | float)
        or isinstance(ts, bool)
        or not isinstance(data, dict)
        or len(obj) != 8
    ):
        return "fields malformed"
    rec = logged_record(seq, float(ts), _TYPE_OF[typ], step, data, crc)
    return rec, crc


def _lines(buf: bytes, start: int) -> list[tuple[int, bytes, bool]]:
    """(offset, line without newline, complete) for each line from ``start``."""
    out: list[tuple[int, bytes, bool]] = []
    pos, n = start, len(buf)
    while pos < n:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            out.append((pos, buf[pos:], False))
            break
        out.append((pos, buf[pos:nl], True))
        pos = nl + 1
    return out


def scan(
    buf: bytes,
    run_id: str,
    *,
    start: int = 0,
    start_seq: int = 0,
    prev: int | None = None,
    salt: str | None = None,
) -> Scan:
    """Validate a WAL (or, with ``start``/``start_seq``/``prev``, its tail after a snapshot).

    Never raises on damage: the caller decides (torn tail -> truncate, mid-log -> refuse).
    """
    lines = _lines(buf, start)
    records: list[Record] = []
    created = 0
    i = 0
    good_end = start
    line_base = 1 if start == 0 else buf.count(b"\n", 0, start) + 1
    if start == 0:
        if not lines:
            return Scan(None, 0, [], 0, None, 0)
        off, line, complete = lines[0]
        parsed = _parse_header(line, run_id) if complete else "header incomplete"
        if isinstance(parsed, str):
            base = Scan(None, 0, [], 0, None, 0, damage_line=line_base)
            return _damaged(lines, 1, base, seq=None, reason=parsed)
        salt, created = parsed
        prev = chain_seed(salt)
        good_end = off + len(line) + 1
        i = 1
    assert prev is not None
    seq = start_seq
    for j in range(i, len(lines)):
        off, line, complete = lines[j]
        result = _parse_record(line, seq, prev) if complete else "incomplete last line"
        if isinstance(result, str):
            base = Scan(salt, created, records, good_end, prev, seq, damage_line=line_base)
            return _damaged(lines, j + 1, base, seq=seq, reason=result)
        rec, prev = result
        records.append(rec)
        good_end = off + len(line) + 1
        seq += 1
    return Scan(salt, created, records, good_end, prev, seq)


def _damaged(
    lines: list[tuple[int, bytes, bool]], bad: int, base: Scan, *, seq: int | None, reason: str
) -> Scan:
    """``base`` (the valid prefix) plus the first bad line (``bad``, 1-based in ``lines``)."""
    # A later line whose own CRC checks was written whole: the damage is not a torn write
    # at the end, so recovery must refuse rather than truncate valid history away.
    mid = any(complete and self_valid(line) is not None for _, line, complete in lines[bad:])
    return replace(
        base,
        damage_line=base.damage_line + bad - 1 if base.damage_line else bad,
        damage_seq=seq,
        reason=reason,
        mid_log=mid,
    )
