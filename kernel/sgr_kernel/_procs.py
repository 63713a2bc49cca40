"""Processes on this host: alive, when they started, and whether an owner recorded as
``host:pid:start`` is gone. The sandbox reaper, the trace lock, worker job folders and test
container clusters all decide "is its owner dead?" here, the same way."""

from __future__ import annotations

import os
import socket

__all__ = ["orphaned", "owner_gone", "owner_tag", "pid_alive", "process_start"]


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def process_start(pid: int) -> str:
    """When ``pid`` started (clock ticks since boot), or ``""`` when it is gone or unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else ""


def owner_tag(pid: int | None = None) -> str:
    """``host:pid:start`` of a process (this one by default), so what a dead process left can
    be told apart from what a live one owns — even when its pid has been reused."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{process_start(pid)}"


def owner_gone(pid: int, start: str | None) -> bool:
    """Whether the process that was ``pid`` (started at ``start``; unknown: None, "" or "0")
    has ended: no such pid, or the pid now belongs to a later process."""
    if not pid_alive(pid):
        return True
    return start not in (None, "", "0") and process_start(pid) != start


def orphaned(owner: str, host: str) -> bool:
    """Whether an ``owner`` tag (``host:pid:start``, or ``host:pid`` from before start times
    were recorded) names a process of ``host`` that has ended. Another host's owner is never
    judged: only that host can know."""
    parts = owner.split(":")
    if len(parts) == 3:
        owner_host, pid, started = parts
    elif len(parts) == 2:
        (owner_host, pid), started = parts, None
    else:
        return False
    if owner_host != host or not pid.isdigit():
        return False
    return owner_gone(int(pid), started)
