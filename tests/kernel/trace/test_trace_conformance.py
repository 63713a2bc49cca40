"""T1.10: the conformance suite against every trace backend."""

from __future__ import annotations

from pathlib import Path

from sgr_kernel.testing.memory_store import MemoryTraceStore
from sgr_kernel.testing.simdisk import SimDisk
from sgr_kernel.testing.trace_conformance import CAPABILITIES, TraceStoreConformance
from sgr_kernel.trace import FileTraceStore, TraceStore

BACKENDS = ("file", "file-on-simdisk", "memory")


class TestFileStore(TraceStoreConformance):
    def make_store(self, root: Path) -> TraceStore:
        return FileTraceStore(root)


class TestFileStoreOnSimDisk(TraceStoreConformance):
    def make_store(self, root: Path) -> TraceStore:
        return FileTraceStore(root, fileio=SimDisk())


class TestMemoryStore(TraceStoreConformance):
    def make_store(self, root: Path) -> TraceStore:
        return MemoryTraceStore(root)


def test_figure() -> None:
    print(f"FIGURE trace_conformance backends={len(BACKENDS)} capabilities={len(CAPABILITIES)}")
