"""The text a run's writer leaves in its ``lock`` file, and how a reader judges it.

The writer writes ``pid=… host=…`` into the lock file when it takes the flock and empties it
when it lets go, so reading it never disturbs the writer (a trial flock could make a
notebook's resume fail at that instant). Only the file store uses this module.
"""

from __future__ import annotations

import os
import socket

from sgr_kernel._procs import pid_alive

__all__ = ["LOCK_NAME", "holder_text", "live_holder"]

LOCK_NAME = "lock"
"""The lock file's name inside a run's directory."""


def holder_text() -> str:
    """What this process writes into a lock it takes."""
    return f"pid={os.getpid()} host={socket.gethostname()}"


def live_holder(text: str) -> str | None:
    """The holder a lock file's ``text`` names, or None when no other live process holds it:
    the file is empty, the holder is this process (a one-off write in flight, no live engine),
    or a process on this host that is gone (killed while writing)."""
    text = text.strip()
    if not text:
        return None
    fields = dict(p.split("=", 1) for p in text.split() if "=" in p)
    pid, host = fields.get("pid", ""), fields.get("host")
    here = host == socket.gethostname() and pid.isdigit()
    if here and (int(pid) == os.getpid() or not pid_alive(int(pid))):
        return None
    return text
