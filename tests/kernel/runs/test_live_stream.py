"""What a run's model streams reaches faces in other processes (the side panel) while the run
is live, and only then: a real ``sgr run`` in a child process against a real OpenAI-compatible
server on loopback that streams slowly; this process reads it through the runs API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sgr_kernel.models.status import RunStatus
from sgr_kernel.runs import Runs
from sgr_kernel.runs.live import LIVE_FILE, TAIL_CHARS, LiveTail, publish_live, read_live
from sgr_kernel.testing.openai_server import OpenAITestServer, Reply
from sgr_kernel.trace.base import Record, RecordType

WORDS = " ".join(f"word{i}" for i in range(60))
ANSWER = Reply.trickle(json.dumps({"reasoning": WORDS, "answer": "Paris"}), 0.1)
PLAN = {
    "name": "streams",
    "steps": [{"id": "ask", "skill": "answer", "inputs": {"question": "Capital of France?"}}],
}


def _rec(rtype: RecordType, step: str | None, **data: object) -> Record:
    return Record(seq=1, ts=0.0, type=rtype, step=step, data=dict(data))


def test_the_tail_is_throttled_reset_per_attempt_and_gone_at_the_end(tmp_path: Path) -> None:
    now = [0.0]
    path = tmp_path / LIVE_FILE
    tail = LiveTail(path, interval_s=0.25, clock=lambda: now[0])
    tail(_rec(RecordType.STEP, "a", status="RUNNING"))
    for i in range(10):  # ten tokens in 0.09 s: one write
        now[0] += 0.01
        tail(_rec(RecordType.EVENT, "a", kind="token", text=f"t{i} "))
    assert tail.writes == 1 and read_live(tmp_path) == {"a": "t0 "}
    now[0] += 0.3
    tail(_rec(RecordType.EVENT, "a", kind="token", text="x" * (TAIL_CHARS + 10)))
    assert tail.writes == 2 and read_live(tmp_path)["a"] == "x" * TAIL_CHARS
    tail(_rec(RecordType.EVENT, None, kind="token", text="{plan"))  # planning's own
    tail.flush()
    assert set(read_live(tmp_path)) == {"a", "__plan__"}
    tail(_rec(RecordType.STEP, "a", status="RETRY_WAIT"))  # the attempt ended
    assert set(read_live(tmp_path)) == {"__plan__"}
    tail(_rec(RecordType.STEP, None, status="COMMITTED"))
    assert not path.exists()  # nothing streams: no file
    tail(_rec(RecordType.EVENT, "b", kind="token", text="late"))  # within the interval
    assert read_live(tmp_path) == {}
    tail.flush()  # what the loop's timer does one interval later
    assert read_live(tmp_path) == {"b": "late"}
    tail(_rec(RecordType.RUN_STATUS, None, status="COMPLETED"))
    assert not path.exists() and read_live(tmp_path) == {}


def test_the_last_tokens_of_a_burst_are_written_one_interval_later(tmp_path: Path) -> None:
    async def go() -> dict[str, str]:
        tail = LiveTail(tmp_path / LIVE_FILE, interval_s=0.05)
        for word in ("one ", "two ", "three"):
            tail(_rec(RecordType.EVENT, "a", kind="token", text=word))
        assert read_live(tmp_path) == {"a": "one "}
        await asyncio.sleep(0.2)
        return read_live(tmp_path)

    assert asyncio.run(go()) == {"a": "one two three"}


def test_publishing_a_run_clears_what_a_killed_process_left(tmp_path: Path) -> None:
    (tmp_path / LIVE_FILE).write_text('{"ask": "an earlier attempt"}')
    subscribed: list[object] = []

    class Handle:
        def subscribe(self, listener: object) -> Callable[[], None]:
            subscribed.append(listener)
            return lambda: None

    stop = publish_live(Handle(), tmp_path)
    assert read_live(tmp_path) == {} and len(subscribed) == 1
    stop()


def test_a_file_that_is_not_ours_reads_as_nothing(tmp_path: Path) -> None:
    for junk in ("", "not json", "[1, 2]", '{"a": 1, "b": null}', "\x00\xff"):
        (tmp_path / LIVE_FILE).write_text(junk, errors="surrogateescape")
        assert read_live(tmp_path) == {}, junk


def _sgr_run(home: Path, srv: OpenAITestServer, plan: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SGR_HOME": str(home),
        "SGR_PROVIDER": "openai_compat",
        "SGR_BASE_URL": srv.base_url,
        "SGR_MODEL": "test-model",
        "SGR_API_KEY": "k",
        "SGR_DISPATCHER": "inline",
    }
    cmd = [sys.executable, "-m", "sgr_kernel.cli", "run", str(plan), "--json"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _streaming(runs: Runs, proc: subprocess.Popen[bytes]) -> tuple[str, str]:
    """Wait (bounded by the test timeout) until the child's run shows streamed text."""
    while proc.poll() is None:
        for s in runs.summaries():
            if s.live == "elsewhere" and (text := runs.detail(s.run_id).streams.get("ask")):
                return s.run_id, text
        time.sleep(0.05)
    raise AssertionError(f"the run ended before any stream was seen: {proc.communicate()}")


def test_a_run_live_in_another_process_shows_its_stream_then_none(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    home = tmp_path / "home"
    with OpenAITestServer([ANSWER]) as srv:
        proc = _sgr_run(home, srv, plan)
        runs = Runs.at(home)
        run_id, text = _streaming(runs, proc)
        seen = len(text)
        assert text in ANSWER.content  # a part of what the model sent, in order
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    detail = runs.detail(run_id)
    assert detail.summary.status is RunStatus.COMPLETED and detail.streams == {}
    assert not (runs.kernel.store.run_dir(run_id) / LIVE_FILE).exists()
    print(
        f"FIGURE live_stream seen_while_running=1 chars_seen={seen} after_end={len(detail.streams)}"
    )


def test_a_stream_left_by_a_killed_process_is_not_shown(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    home = tmp_path / "home"
    with OpenAITestServer([ANSWER]) as srv:
        proc = _sgr_run(home, srv, plan)
        runs = Runs.at(home)
        run_id, _ = _streaming(runs, proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    left = read_live(runs.kernel.store.run_dir(run_id))
    shown = runs.detail(run_id).streams
    assert left and shown == {}  # the file stayed behind; the dead run's stream is not shown
    print(f"FIGURE live_stream_stale left_on_disk={len(left)} shown={len(shown)}")
