"""The file layer under the WAL, snapshots and artifacts, injectable for fault tests.

Everything the trace persists goes through a :class:`FileIO`. :class:`OsFileIO` is the real
one; ``sgr_kernel.testing.simdisk.SimDisk`` keeps writes in memory until fsync and can
"lose power" at any sync, and tests wrap either to inject EIO/ENOSPC.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import Protocol

__all__ = ["FileIO", "LockBusy", "OsFileIO"]


class LockBusy(Exception):
    """Raised by :meth:`FileIO.lock` when another holder has the lock."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


class FileIO(Protocol):
    """The operations the trace needs. Handles are small ints (file descriptors)."""

    def open_append(self, path: Path) -> int:
        """Open for appending, creating the file if needed."""
        ...

    def open_trunc(self, path: Path) -> int:
        """Open for writing, creating or emptying the file."""
        ...

    def write(self, fd: int, data: bytes) -> None:
        """Write all of ``data`` (looping over short writes) or raise ``OSError``."""
        ...

    def fsync(self, fd: int) -> None:
        """Flush the file's data and metadata to stable storage."""
        ...

    def close(self, fd: int) -> None:
        """Close a handle."""
        ...

    def rename(self, src: Path, dst: Path) -> None:
        """Atomically replace ``dst`` by ``src`` (durable only after :meth:`fsync_dir`)."""
        ...

    def fsync_dir(self, path: Path) -> None:
        """Make the directory's entries (creates, renames) durable."""
        ...

    def truncate(self, path: Path, size: int) -> None:
        """Cut a file to ``size`` bytes (durable only after an fsync of the file)."""
        ...

    def read(self, path: Path, offset: int = 0) -> bytes:
        """The file's bytes from ``offset``; ``FileNotFoundError`` when absent."""
        ...

    def exists(self, path: Path) -> bool:
        """Whether the path exists."""
        ...

    def makedirs(self, path: Path) -> None:
        """Create a directory and its parents (no error when it exists)."""
        ...

    def listdir(self, path: Path) -> list[str]:
        """Entry names of a directory (``[]`` when it does not exist)."""
        ...

    def lock(self, path: Path, holder: str) -> int:
        """Take an exclusive, non-blocking lock on ``path`` and write ``holder`` into it.

        Raises :class:`LockBusy` (with the current holder's text) when it is held, also by
        another handle of this same process.
        """
        ...

    def unlock(self, handle: int) -> None:
        """Release a lock taken with :meth:`lock`."""
        ...


class OsFileIO:
    """The real file layer: POSIX calls, ``flock`` locks (per open file, so a second
    writer in the same process is refused too)."""

    def open_append(self, path: Path) -> int:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def open_trunc(self, path: Path) -> int:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)

    def write(self, fd: int, data: bytes) -> None:
        n = os.write(fd, data)
        if n == len(data):  # the usual case: all of it at once
            return
        if n <= 0:  # never seen on regular files, but a zero write must not spin
            raise OSError(errno.EIO, "write returned 0")
        view = memoryview(data)[n:]
        while view:
            n = os.write(fd, view)
            if n <= 0:  # never seen on regular files, but a zero write must not spin
                raise OSError(errno.EIO, "write returned 0")
            view = view[n:]

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def close(self, fd: int) -> None:
        os.close(fd)

    def rename(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def truncate(self, path: Path, size: int) -> None:
        os.truncate(path, size)

    def read(self, path: Path, offset: int = 0) -> bytes:
        with open(path, "rb") as f:
            if offset:
                f.seek(offset)
            return f.read()

    def exists(self, path: Path) -> bool:
        return path.exists()

    def makedirs(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)

    def listdir(self, path: Path) -> list[str]:
        try:
            return os.listdir(path)
        except FileNotFoundError:
            return []

    def lock(self, path: Path, holder: str) -> int:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                current = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            finally:
                os.close(fd)
            raise LockBusy(current or "unknown holder") from None
        except BaseException:
            os.close(fd)
            raise
        # The holder text is for the error message of the next would-be writer only.
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        return fd

    def unlock(self, handle: int) -> None:
        try:
            os.ftruncate(handle, 0)
        finally:
            os.close(handle)  # closing the last fd of the open file drops the flock
