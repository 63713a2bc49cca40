"""The sandbox session a run relies on, rebuilt after a restart of its process.

A run has one sandbox session; code cells run in it one at a time, so a later step sees the
names an earlier one defined. When the process dies that Python state dies with it. On resume
(and for a fork, from its parent) the kernel starts a fresh session and runs again, in their
logged order, the cells that had run in the old one. Their effects on the run's workspace
already happened, so the workspace is copied aside first and put back afterwards: the cells
rebuild memory, never files. What the sandbox cannot reach (network, host) it never could.

Cells are read from the log, not from the fold: only runs that use the sandbox after a
restart pay for the read.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sgr_kernel.sandbox.base import SandboxSession
from sgr_kernel.trace._crash import crashpoint
from sgr_kernel.trace.base import Record, RecordType, TraceStore

__all__ = [
    "RestoreReport",
    "copy_workspace",
    "logged_cells",
    "recover_workspace",
    "restore_session",
]


@dataclass
class RestoreReport:
    """What rebuilding a session did."""

    cells: int = 0
    errors: list[str] = field(default_factory=list)


def _own_cells(records: tuple[Record, ...], steps: frozenset[str] | None) -> list[str]:
    """Code of the sandbox calls that ran in this run's session, in the order they ran."""
    intents: dict[str, str] = {}
    cells: list[str] = []
    for rec in records:
        if rec.type not in (RecordType.INTENT, RecordType.RESULT) or rec.data.get("kind") != (
            "sandbox"
        ):
            continue
        if rec.data.get("carried") or (steps is not None and rec.step not in steps):
            continue  # a copy served on resume ran nowhere
        key = str(rec.data.get("key"))
        if rec.type is RecordType.INTENT:
            intents[key] = str((rec.data.get("request") or {}).get("code", ""))
            continue
        code = intents.pop(key, None)
        response = rec.data.get("response") or {}
        if not rec.data.get("ok") or code is None:
            continue  # it did not run in the session (no sandbox, refused)
        if response.get("state_lost"):
            cells = []  # the session restarted before this cell: what came before is gone
        cells.append(code)
    return cells


def logged_cells(store: TraceStore, run_id: str, steps: frozenset[str] | None = None) -> list[str]:
    """The cells a fresh session of ``run_id`` must run again; a fork's start with the cells
    of the steps it inherited from its parent (recursively)."""
    records = store.read(run_id).records
    parent: str | None = None
    inherited: set[str] = set()
    for rec in records:
        if rec.type is RecordType.RUN_CREATED:
            parent = (rec.data.get("parent") or {}).get("run_id")
        elif (
            rec.type is RecordType.STEP
            and rec.data.get("inherited")
            and rec.step
            and (steps is None or rec.step in steps)
        ):
            inherited.add(rec.step)
    before: list[str] = []
    if parent and inherited and store.exists(parent):
        before = logged_cells(store, parent, frozenset(inherited))
    return before + _own_cells(records, steps)


def _copy_tree(src: Path, dst: Path) -> None:
    """``cp -a``: modes, owners (the sandbox user's files) and links kept."""
    dst.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", f"{src}/.", str(dst)], check=True, capture_output=True)


def _clear(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _save(workspace: Path, saved: Path) -> None:
    """A complete copy at ``saved``, or none: copied under a temporary name, then renamed."""
    tmp = saved.with_name(saved.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    _copy_tree(workspace, tmp)
    tmp.rename(saved)


def _put_back(saved: Path, workspace: Path) -> None:
    """Make ``workspace`` what ``saved`` holds. Idempotent, so a crash in here is redone."""
    _clear(workspace)
    _copy_tree(saved, workspace)
    old = saved.with_name(saved.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    saved.rename(old)
    shutil.rmtree(old, ignore_errors=True)


def copy_workspace(src: Path, dst: Path) -> None:
    """A fork's workspace: its parent's as it is now (copied under a temporary name)."""
    tmp = dst.with_name(dst.name + ".forking")
    shutil.rmtree(tmp, ignore_errors=True)
    _copy_tree(src, tmp)
    tmp.rename(dst)


def recover_workspace(workspace: Path) -> None:
    """Undo a restore that died half-way (its saved copy is the true workspace)."""
    saved = workspace.with_name(workspace.name + ".restoring")
    if saved.is_dir():
        _put_back(saved, workspace)


async def restore_session(
    session: SandboxSession, workspace: Path, cells: list[str], *, timeout_s: float | None = None
) -> RestoreReport:
    """Run ``cells`` in ``session`` (fresh), leaving ``workspace`` as it was before."""
    report = RestoreReport()
    if not cells:
        return report
    saved = workspace.with_name(workspace.name + ".restoring")
    await asyncio.to_thread(recover_workspace, workspace)
    await asyncio.to_thread(_save, workspace, saved)
    try:
        for code in cells:
            result = await session.execute(code, timeout_s=timeout_s)
            crashpoint("sandbox_restore_cell")  # the workspace may hold a cell's effect now
            report.cells += 1
            if not result.ok:
                report.errors.append(f"{result.error_type}: {(result.error or '')[-200:]}")
    finally:
        await asyncio.to_thread(_put_back, saved, workspace)
    return report
