"""Simulated storage for power-loss and I/O-error tests (after SQLite's crash VFS, test6.c).

:class:`SimDisk` is a :class:`~sgr_kernel.trace._fileio.FileIO` held in memory that models a
page cache: writes, truncates, creates and renames are visible at once but only reach
"stable storage" on ``fsync`` (file data) and ``fsync_dir`` (directory entries). Arm it with
``crash_at_sync=N``: the N-th sync raises :class:`SimulatedCrash` *instead of* syncing, and
:meth:`SimDisk.crash_image` builds the disk as it would be found after the power came back:

- directory operations not yet fsynced: a random *prefix* of them survives (a journal
  commits metadata in order);
- file writes not yet fsynced, ``mode="random"``: each one independently ends up written,
  dropped or garbage (random bytes of the same length) - the weakest filesystem ALICE
  models, where a later append can survive an earlier one;
  ``mode="ordered"``: writes survive as a prefix: the first K whole, the next one written,
  dropped, torn (a prefix of it) or garbage, the rest dropped.

``lying_fsync=True`` makes fsync a no-op that still counts as a sync point (a storage that
lies, or a build with the fsync removed): the negative control of the power-loss test.
:class:`FaultyFileIO` wraps any file layer and fails chosen calls with EIO/ENOSPC.
"""

from __future__ import annotations

import errno
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sgr_kernel.trace._fileio import FileIO, LockBusy

__all__ = ["FaultyFileIO", "SimDisk", "SimulatedCrash"]

Mode = Literal["random", "ordered"]


class SimulatedCrash(Exception):
    """The simulated machine lost power at a sync."""


@dataclass
class _Inode:
    data: bytearray = field(default_factory=bytearray)
    durable: bytearray = field(default_factory=bytearray)
    # ("w", offset, bytes) or ("t", size, b""), in order, since the last fsync
    pending: list[tuple[str, int, bytes]] = field(default_factory=list)


class SimDisk:
    """An in-memory disk with a page cache that loses power on demand."""

    def __init__(
        self,
        *,
        crash_at_sync: int | None = None,
        lying_fsync: bool = False,
        _files: dict[Path, _Inode] | None = None,
        _dirs: set[Path] | None = None,
    ) -> None:
        self.crash_at_sync, self.lying_fsync = crash_at_sync, lying_fsync
        self.syncs = 0
        self.crashed = False
        self._files: dict[Path, _Inode] = _files if _files is not None else {}
        self._durable: dict[Path, _Inode] = dict(self._files)
        self._dirs: set[Path] = _dirs if _dirs is not None else set()
        # Directory operations since that directory's last fsync, in order.
        self._dir_ops: dict[Path, list[tuple[str, Path, Path | None, _Inode | None]]] = {}
        self._fds: dict[int, tuple[_Inode, Path]] = {}
        self._locks: dict[int, Path] = {}
        self._next_fd = 3

    # ------------------------------------------------------------ crash machinery

    def _sync_point(self) -> None:
        if self.crashed:
            raise SimulatedCrash("the disk already lost power")
        self.syncs += 1
        if self.crash_at_sync is not None and self.syncs == self.crash_at_sync:
            self.crashed = True
            raise SimulatedCrash(f"power lost at sync #{self.syncs}")

    def _alive(self) -> None:
        if self.crashed:
            raise SimulatedCrash("the disk already lost power")

    def crash_image(self, rng: random.Random, mode: Mode = "random") -> SimDisk:
        """The disk after power comes back (see the module docstring)."""
        entries = dict(self._durable)
        for ops in self._dir_ops.values():
            for op, src, dst, inode in ops[: rng.randint(0, len(ops))]:
                _apply_dir_op(entries, op, src, dst, inode)
        files: dict[Path, _Inode] = {}
        images: dict[int, _Inode] = {}
        for path, inode in entries.items():
            if id(inode) not in images:
                data = _replay(inode, rng, mode)
                images[id(inode)] = _Inode(data=bytearray(data), durable=bytearray(data))
            files[path] = images[id(inode)]
        return SimDisk(_files=files, _dirs=set(self._dirs))

    def put_file(self, path: Path, data: bytes) -> None:
        """Place a file with durable content ``data`` (creating its directories); for tests."""
        path = Path(path)
        self.makedirs(path.parent)
        inode = _Inode(data=bytearray(data), durable=bytearray(data))
        self._files[path] = self._durable[path] = inode

    def snapshot_bytes(self, path: Path) -> bytes | None:
        """What a reader would see now (None when absent); for test assertions."""
        inode = self._files.get(Path(path))
        return None if inode is None else bytes(inode.data)

    # ------------------------------------------------------------ FileIO

    def _new_fd(self, inode: _Inode, path: Path) -> int:
        fd, self._next_fd = self._next_fd, self._next_fd + 1
        self._fds[fd] = (inode, path)
        return fd

    def _create(self, path: Path) -> _Inode:
        if path.parent not in self._dirs:
            raise FileNotFoundError(errno.ENOENT, "no such directory", str(path.parent))
        inode = _Inode()
        self._files[path] = inode
        self._dir_ops.setdefault(path.parent, []).append(("link", path, None, inode))
        return inode

    def open_append(self, path: Path) -> int:
        self._alive()
        path = Path(path)
        inode = self._files.get(path) or self._create(path)
        return self._new_fd(inode, path)

    def open_trunc(self, path: Path) -> int:
        self._alive()
        path = Path(path)
        inode = self._files.get(path)
        if inode is None:
            inode = self._create(path)
        elif inode.data:
            inode.data.clear()
            inode.pending.append(("t", 0, b""))
        return self._new_fd(inode, path)

    def write(self, fd: int, data: bytes) -> None:
        self._alive()
        inode, _ = self._fds[fd]
        # Every handle the trace writes through either appends or starts from empty.
        inode.pending.append(("w", len(inode.data), bytes(data)))
        inode.data += data

    def fsync(self, fd: int) -> None:
        inode, _ = self._fds[fd]
        self._sync_point()
        if not self.lying_fsync:
            inode.durable = bytearray(inode.data)
            inode.pending.clear()

    def close(self, fd: int) -> None:
        self._fds.pop(fd, None)

    def rename(self, src: Path, dst: Path) -> None:
        self._alive()
        src, dst = Path(src), Path(dst)
        inode = self._files.pop(src)
        self._files[dst] = inode
        self._dir_ops.setdefault(dst.parent, []).append(("rename", src, dst, None))

    def fsync_dir(self, path: Path) -> None:
        self._sync_point()
        if self.lying_fsync:
            return
        for op, src, dst, inode in self._dir_ops.pop(Path(path), []):
            _apply_dir_op(self._durable, op, src, dst, inode)

    def truncate(self, path: Path, size: int) -> None:
        self._alive()
        inode = self._files[Path(path)]
        del inode.data[size:]
        inode.pending.append(("t", size, b""))

    def read(self, path: Path, offset: int = 0) -> bytes:
        self._alive()
        inode = self._files.get(Path(path))
        if inode is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
        return bytes(inode.data[offset:])

    def exists(self, path: Path) -> bool:
        path = Path(path)
        return path in self._files or path in self._dirs

    def makedirs(self, path: Path) -> None:
        self._alive()
        path = Path(path)
        # Directories themselves are modelled as durable at once; the entries in them are not.
        self._dirs.update([path, *path.parents])

    def listdir(self, path: Path) -> list[str]:
        path = Path(path)
        names = {p.name for p in self._files if p.parent == path}
        names |= {d.name for d in self._dirs if d.parent == path and d != path}
        return sorted(names)

    def lock(self, path: Path, holder: str) -> int:
        self._alive()
        path = Path(path)
        if path in self._locks.values():
            raise LockBusy(f"{holder} (simulated)")
        fd, self._next_fd = self._next_fd, self._next_fd + 1
        self._locks[fd] = path
        return fd

    def unlock(self, handle: int) -> None:
        self._locks.pop(handle, None)


def _apply_dir_op(
    entries: dict[Path, _Inode], op: str, src: Path, dst: Path | None, inode: _Inode | None
) -> None:
    if op == "link" and inode is not None:
        entries[src] = inode
    elif op == "rename" and dst is not None and src in entries:
        entries[dst] = entries.pop(src)


def _replay(inode: _Inode, rng: random.Random, mode: Mode) -> bytes:
    """Durable content plus each pending operation with a drawn outcome."""
    data = bytearray(inode.durable)
    ops = inode.pending
    cut = rng.randint(0, len(ops)) if mode == "ordered" else -1
    for i, (kind, at, written) in enumerate(ops):
        if mode == "ordered":
            if i > cut:
                break
            outcome = (
                "written" if i < cut else rng.choice(["written", "dropped", "torn", "garbage"])
            )
        else:
            outcome = rng.choice(["written", "dropped", "garbage"])
        if outcome == "dropped":
            continue
        if kind == "t":
            del data[at:]
            continue
        payload = written
        if outcome == "torn":
            payload = written[: rng.randint(0, len(written))]
        elif outcome == "garbage":
            payload = rng.randbytes(len(written))
        if len(data) < at:
            data += bytes(at - len(data))  # a hole reads back as zeros
        data[at : at + len(payload)] = payload
    return bytes(data)


class FaultyFileIO:
    """Wraps a file layer and makes chosen calls fail, e.g. ``{"fsync": (3, errno.EIO)}``:
    the 3rd fsync raises EIO. Counts every call in ``calls``."""

    def __init__(self, inner: FileIO, faults: dict[str, tuple[int, int]]) -> None:
        self.inner, self.faults = inner, dict(faults)
        self.calls: dict[str, int] = {}

    def _tick(self, name: str) -> None:
        n = self.calls[name] = self.calls.get(name, 0) + 1
        fault = self.faults.get(name)
        if fault is not None and fault[0] == n:
            raise OSError(fault[1], f"injected {errno.errorcode[fault[1]]} on {name} #{n}")

    def open_append(self, path: Path) -> int:
        self._tick("open_append")
        return self.inner.open_append(path)

    def open_trunc(self, path: Path) -> int:
        self._tick("open_trunc")
        return self.inner.open_trunc(path)

    def write(self, fd: int, data: bytes) -> None:
        self._tick("write")
        self.inner.write(fd, data)

    def fsync(self, fd: int) -> None:
        self._tick("fsync")
        self.inner.fsync(fd)

    def close(self, fd: int) -> None:
        self.inner.close(fd)

    def rename(self, src: Path, dst: Path) -> None:
        self._tick("rename")
        self.inner.rename(src, dst)

    def fsync_dir(self, path: Path) -> None:
        self._tick("fsync_dir")
        self.inner.fsync_dir(path)

    def truncate(self, path: Path, size: int) -> None:
        self._tick("truncate")
        self.inner.truncate(path, size)

    def read(self, path: Path, offset: int = 0) -> bytes:
        return self.inner.read(path, offset)

    def exists(self, path: Path) -> bool:
        return self.inner.exists(path)

    def makedirs(self, path: Path) -> None:
        self.inner.makedirs(path)

    def listdir(self, path: Path) -> list[str]:
        return self.inner.listdir(path)

    def lock(self, path: Path, holder: str) -> int:
        return self.inner.lock(path, holder)

    def unlock(self, handle: int) -> None:
        self.inner.unlock(handle)
