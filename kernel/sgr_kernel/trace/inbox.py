"""A run's inbox: how another process steers a run that is live elsewhere.

One process writes a run's log (the lock). A decision or a cancel from another process — the
CLI, the Jupyter server's side panel — is *posted* as a small JSON file into
``runs/<run_id>/inbox/``; the live engine takes it, applies it, and records the outcome in its
own log, so the log keeps one writer and a decision is durable only once the writer has
recorded it. Files are written atomically (temp file, fsync, rename); a request the engine
refuses is moved to ``inbox/rejected/`` with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["InboxRequest", "post", "reject", "take"]

Action = Literal["approve", "deny", "cancel"]
INBOX = "inbox"


@dataclass(frozen=True)
class InboxRequest:
    """One posted request, and the file it came in."""

    path: Path
    action: Action
    step: str | None
    by: str
    reason: str | None


def post(
    run_dir: Path,
    action: Action,
    *,
    step: str | None = None,
    by: str = "user",
    reason: str | None = None,
    request_id: str,
) -> Path:
    """Post a request for the live engine of the run in ``run_dir``; returns its file."""
    box = run_dir / INBOX
    box.mkdir(exist_ok=True)
    body = json.dumps({"action": action, "step": step, "by": by, "reason": reason}).encode()
    tmp = box / f".{request_id}.tmp"
    final = box / f"{request_id}.json"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    dfd = os.open(box, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return final


def take(run_dir: Path) -> list[InboxRequest]:
    """The requests waiting in the inbox, oldest first (by name); malformed ones rejected."""
    box = run_dir / INBOX
    try:
        names = sorted(n for n in os.listdir(box) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    out: list[InboxRequest] = []
    for name in names:
        path = box / name
        try:
            data: Any = json.loads(path.read_bytes())
            action = data["action"]
            if action not in ("approve", "deny", "cancel"):
                raise ValueError(f"unknown action {action!r}")
            out.append(
                InboxRequest(
                    path=path,
                    action=action,
                    step=data.get("step"),
                    by=str(data.get("by") or "user"),
                    reason=data.get("reason"),
                )
            )
        except FileNotFoundError:
            continue
        except (ValueError, KeyError, TypeError) as e:
            reject(path, f"malformed request: {e}")
    return out


def done(request: InboxRequest) -> None:
    """Remove an applied request."""
    with contextlib.suppress(FileNotFoundError):
        request.path.unlink()


def reject(path: Path, reason: str) -> None:
    """Move a refused request aside with the reason next to it."""
    rejected = path.parent / "rejected"
    rejected.mkdir(exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, rejected / path.name)
        (rejected / f"{path.name}.reason").write_text(reason + "\n", encoding="utf-8")
