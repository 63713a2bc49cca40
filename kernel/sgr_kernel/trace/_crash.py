"""Named crash points for kill -9 tests of the write path.

A crash test runs a child process with ``SGR_CRASH_AT=NAME:K``; the K-th time (1-based) the
child reaches ``crashpoint(NAME)`` it sends itself SIGKILL, so nothing is flushed or cleaned
up, exactly like an OOM kill. Unarmed, ``crashpoint`` is one global load and a compare.

The trace's points (in write order):

- ``create_header``: a new WAL's header line is written, not yet fsynced.
- ``create_dir_fsync``: the header and the run directory are fsynced; ``create`` is about to
  return.
- ``before_write``: a record is encoded; nothing of it is written yet.
- ``after_write``: the record line is written (in the page cache), not yet fsynced.
- ``after_fsync``: the WAL is fsynced after a durable append; the append is about to return.
- ``snap_tmp_write``: a snapshot's temp file is written, not yet fsynced.
- ``snap_fsync``: the temp file is fsynced; nothing renamed yet.
- ``snap_rename``: the temp file is renamed over ``snapshot.json`` (the previous one kept as
  ``snapshot.prev.json``); the directory is not yet fsynced.
- ``snap_dir_fsync``: the directory is fsynced; the snapshot is durable.
- ``recover_moved_aside``: recovery copied a torn tail aside; the WAL is not yet truncated.
- ``recover_truncated``: recovery truncated the WAL; not yet fsynced.

Other layers (the engine) add their own names; ``crashpoint`` accepts any string.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_ENV", "TRACE_CRASH_POINTS", "arm", "crashpoint", "hits"]

CRASH_ENV = "SGR_CRASH_AT"

TRACE_CRASH_POINTS: tuple[str, ...] = (
    "create_header",
    "create_dir_fsync",
    "before_write",
    "after_write",
    "after_fsync",
    "snap_tmp_write",
    "snap_fsync",
    "snap_rename",
    "snap_dir_fsync",
    "recover_moved_aside",
    "recover_truncated",
)
"""Every crash point the trace layer defines, in write-path order."""

_armed: tuple[str, int] | None = None
_hits: dict[str, int] = {}


def arm(spec: str | None) -> None:
    """Arm (``"NAME:K"``, or ``"NAME"`` for K=1) or disarm (``None``/``""``) the crash point.

    Read once from ``SGR_CRASH_AT`` at import; tests may call it directly in a child process.
    """
    global _armed
    _hits.clear()
    if not spec:
        _armed = None
        return
    name, _, k = spec.partition(":")
    count = int(k) if k else 1
    if count < 1:
        raise ValueError(f"{CRASH_ENV}={spec!r}: K must be >= 1")
    _armed = (name, count)


def hits() -> dict[str, int]:
    """How often each point was reached since arming (only counted while armed)."""
    return dict(_hits)


def crashpoint(name: str) -> None:
    """SIGKILL this process if ``name`` is armed and this is its K-th hit."""
    if _armed is None:  # the only cost on the hot path when no test armed a point
        return
    n = _hits.get(name, 0) + 1
    _hits[name] = n
    if _armed == (name, n):
        os.kill(os.getpid(), signal.SIGKILL)


arm(os.environ.get(CRASH_ENV))
