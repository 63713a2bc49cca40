"""A job's artifact directory names its owner (host, pid, process start); making one removes
those of owners that died on this host, which a SIGKILLed worker leaves behind."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from sgr_kernel._procs import process_start
from sgr_kernel.dispatch._jobctx import RunningJob, reap_job_dirs


@pytest.fixture
def tmp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _dir(root: Path, host: str, pid: int, start: str) -> Path:
    d = root / f"sgr-job-{host}-{pid}-{start}-abc_1234"
    d.mkdir()
    (d / "video.mp4").write_bytes(b"half a video")
    return d


def test_a_dead_owners_directory_goes_and_live_or_foreign_ones_stay(tmp_root: Path) -> None:
    host = socket.gethostname()
    child = subprocess.Popen(["sleep", "30"])
    child_start = process_start(child.pid)
    child.kill()
    child.wait()
    me = os.getpid()
    dead = _dir(tmp_root, host, child.pid, child_start)
    reused = _dir(tmp_root, host, me, "1")  # our pid, another process's start: pid reused
    live = _dir(tmp_root, host, me, process_start(me))
    foreign = _dir(tmp_root, "other-host", child.pid, child_start)
    unrelated = tmp_root / "sgr-job-not-ours"
    unrelated.mkdir()
    job = RunningJob("k", lambda p: None, lambda: False)
    made = job.artifact_dir  # making one reaps first
    left = {p.name for p in tmp_root.iterdir()}
    print(f"FIGURE job_dirs dead_reaped={dead.name not in left} live_kept={live.name in left}")
    assert dead.name not in left and reused.name not in left
    assert {live.name, foreign.name, unrelated.name, made.name} <= left
    assert made.name.startswith(f"sgr-job-{host}-{me}-{process_start(me)}-")
    job.collect()
    assert reap_job_dirs() == []  # nothing else to remove
