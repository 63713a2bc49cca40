"""``sgr run`` streams the model's tokens live on a terminal (stderr) and is quiet otherwise."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

PLAN = {"steps": [{"skill": "answer", "inputs": {"question": "Capital of France?"}}]}
ANSWER = {"reasoning": "Well known.", "answer": "Paris is the capital."}


def _setup(tmp_path: Path) -> dict[str, str]:
    script = tmp_path / "replies.jsonl"
    script.write_text(json.dumps(PLAN) + "\n" + json.dumps(ANSWER) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SGR_")}
    env.update(SGR_HOME=str(tmp_path / "home"), SGR_PROVIDER=f"scripted:{script}")
    return env


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # the other end closed (EIO on Linux)
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def test_tokens_stream_to_a_terminal(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sgr_kernel.cli", "run", "Capital of France?"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    shown = _read_all(master)
    out, _ = proc.communicate(timeout=120)
    os.close(master)
    assert proc.returncode == 0, shown
    assert "[planning] " in shown and '"skill": "answer"' in shown
    assert "[s1] " in shown and "Paris is the capital." in shown
    assert shown.index("[planning]") < shown.index("[s1]")
    assert "[planning]" not in out.decode()  # stdout keeps only the result


def test_nothing_is_streamed_to_a_pipe(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "sgr_kernel.cli", "run", "Capital of France?"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[planning]" not in proc.stderr and "[s1]" not in proc.stderr
    assert "COMPLETED" in proc.stdout


def test_a_terminal_is_quiet_with_json_or_when_turned_off(monkeypatch) -> None:
    from sgr_kernel._cli_stream import wants_stream

    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as tty:
        monkeypatch.delenv("SGR_STREAM", raising=False)
        assert wants_stream(tty)
        assert not wants_stream(tty, json_mode=True)
        monkeypatch.setenv("SGR_STREAM", "0")
        assert not wants_stream(tty)
    os.close(master)
