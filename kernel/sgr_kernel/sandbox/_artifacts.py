"""Collect files the sandboxed code wrote, strictly inside the workspace, and police its size.

The workspace is written by untrusted code, so every entry is treated as hostile: directories
are walked through file descriptors without following symlinks, and a file is read only when
it is a regular file with one link, opened ``O_NOFOLLOW`` and re-checked with ``fstat`` (same
inode as listed), so a symlink, hard link, FIFO or device is never read and a swap between
the listing and the open is caught. Names with control, format (bidi, zero-width) or
path-traversal characters are refused.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import shutil
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sgr_kernel.errors import SandboxUnavailable
from sgr_kernel.sandbox._profile import SANDBOX_UID

__all__ = [
    "Collected",
    "Usage",
    "clear_workspace",
    "collect",
    "prepare_workspace",
    "safe_name",
    "usage",
]

MAX_DEPTH = 4
MAX_ENTRIES = 512
MAX_FILES_RETURNED = 64

Snapshot = dict[str, tuple[int, int, int]]
"""Relative path -> (inode, size, mtime_ns) of the files already returned."""


@dataclass
class Collected:
    """Files to return (relative name, bytes, media type) and what was refused, and why."""

    files: list[tuple[str, bytes, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def safe_name(name: str) -> bool:
    """A single path component that is safe to show and store."""
    if name in ("", ".", "..") or len(name.encode("utf-8", "surrogatepass")) > 255:
        return False
    for ch in name:
        if ch in "/\\\0" or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return False
    return True


def _walk(dir_fd: int, rel: str, depth: int, seen: list[int]) -> Iterator[tuple[str, int, str]]:
    """Yield (relative path, parent dir fd, entry name) of non-directory entries."""
    with os.scandir(dir_fd) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        seen[0] += 1
        if seen[0] > MAX_ENTRIES:
            return
        path = f"{rel}/{entry.name}" if rel else entry.name
        if entry.is_dir(follow_symlinks=False) and safe_name(entry.name) and depth < MAX_DEPTH:
            try:
                sub = os.open(
                    entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd
                )
            except OSError:
                continue
            try:
                yield from _walk(sub, path, depth + 1, seen)
            finally:
                os.close(sub)
        else:
            yield path, dir_fd, entry.name


def _refuse(col: Collected, path: str, why: str) -> None:
    col.refused.append(f"{ascii(path)[:200]}: {why}")


def collect(out_dir: Path, before: Snapshot, max_bytes: int) -> tuple[Collected, Snapshot]:
    """Read new or changed regular files under ``out_dir``; return them and the new snapshot."""
    col, snap = Collected(), dict(before)
    try:
        top = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return col, snap
    try:
        for path, dfd, name in _walk(top, "", 0, [0]):
            if not all(safe_name(p) for p in path.split("/")):
                _refuse(col, path, "unsafe file name")
                continue
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except OSError:
                continue
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            if snap.get(path) == key:
                continue
            snap[path] = key
            if stat.S_ISLNK(st.st_mode):
                _refuse(col, path, "symbolic link")
            elif not stat.S_ISREG(st.st_mode):
                _refuse(col, path, "not a regular file (FIFO, socket or device)")
            elif st.st_nlink != 1:
                _refuse(col, path, "hard link")
            elif st.st_size > max_bytes:
                _refuse(col, path, f"larger than {max_bytes} bytes")
            elif len(col.files) >= MAX_FILES_RETURNED:
                _refuse(col, path, f"more than {MAX_FILES_RETURNED} files")
            else:
                data = _read_checked(name, dfd, st, max_bytes)
                if data is None:
                    _refuse(col, path, "changed while being read")
                    continue
                media = mimetypes.guess_type(name)[0] or "application/octet-stream"
                col.files.append((path, data, media))
    finally:
        os.close(top)
    return col, snap


def _read_checked(name: str, dfd: int, st: os.stat_result, max_bytes: int) -> bytes | None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
    try:
        fd = os.open(name, flags, dir_fd=dfd)
    except OSError:
        return None
    try:
        fst = os.fstat(fd)
        if (fst.st_ino, fst.st_dev) != (st.st_ino, st.st_dev) or not stat.S_ISREG(fst.st_mode):
            return None
        if fst.st_nlink != 1:
            return None
        chunks, left = [], max_bytes + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return None if len(data) > max_bytes else data
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Usage:
    """Disk use of a workspace, counted up to a bound."""

    bytes: int
    entries: int


def usage(root: Path, max_entries: int) -> Usage:
    """Allocated bytes and entry count under ``root`` (stops counting past ``max_entries``)."""
    total, count, stack = 0, 0, [str(root)]
    while stack and count <= max_entries:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            continue
        with it:
            for entry in it:
                count += 1
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += st.st_blocks * 512
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
                if count > max_entries:
                    break
    return Usage(total, count)


def clear_workspace(root: Path, keep: tuple[str, ...] = ("out",)) -> None:
    """Delete everything under ``root`` (symlinks are removed, never followed)."""
    for entry in os.scandir(root):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    for name in keep:
        (root / name).mkdir(exist_ok=True)


def prepare_workspace(workspace: Path) -> Path:
    """The workspace folder a session mounts, with its ``out/``, owned by the sandbox user."""
    ws = Path(workspace).resolve()
    if len(ws.parts) < 3:
        raise SandboxUnavailable(f"refusing to mount {ws} as a sandbox workspace (too broad)")
    (ws / "out").mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # The container runs as nobody: hand it the workspace (only this folder).
        for p in (ws, ws / "out"):
            os.chown(p, SANDBOX_UID, SANDBOX_UID)
    return ws
