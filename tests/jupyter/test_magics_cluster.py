"""``%sgr cluster``: parse, a real LocalCluster started from the notebook, and one-line errors."""

from __future__ import annotations

import socket

import pytest
from IPython.core.error import UsageError

from sgr_jupyter import _args as a
from sgr_jupyter.display import Table


def test_cluster_lines_parse_into_one_typed_command() -> None:
    assert a.parse_line("cluster") == a.ClusterCmd("show")
    assert a.parse_line("cluster jobs") == a.ClusterCmd("jobs")
    assert a.parse_line("cluster local 3") == a.ClusterCmd("local", workers=3)
    assert a.parse_line("cluster connect tcp://h:8786") == a.ClusterCmd(
        "connect", target="tcp://h:8786"
    )
    assert a.parse_line("cluster cancel r1") == a.ClusterCmd("cancel", target="r1")
    for bad, needle in [
        ("cluster local two", "not a worker count"),
        ("cluster connect", "tcp://HOST:PORT"),
        ("cluster cancel", "job key or run id"),
        ("cluster explode", "invalid choice"),
    ]:
        with pytest.raises(UsageError, match=needle):
            a.parse_line(bad)


def test_no_cluster_and_bad_addresses_are_one_line_usage_errors(env, monkeypatch) -> None:
    monkeypatch.delenv("SGR_DASK_ADDRESS", raising=False)
    with pytest.raises(UsageError, match="cluster local 2"):
        env.shell.run_line_magic("sgr", "cluster")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UsageError, match="nothing answers") as e:
        env.shell.run_line_magic("sgr", f"cluster connect tcp://127.0.0.1:{port}")
    assert "\n" not in str(e.value)
    with pytest.raises(UsageError, match="not a Dask scheduler address"):
        env.shell.run_line_magic("sgr", "cluster connect nonsense")
    assert env.magics.frozen_config().dask_address is None  # nothing changed


@pytest.mark.dask
def test_cluster_local_starts_one_and_later_runs_use_it(env, monkeypatch) -> None:
    monkeypatch.delenv("SGR_DASK_ADDRESS", raising=False)
    shown: list[object] = []
    monkeypatch.setattr("sgr_jupyter._cluster.display", shown.append)
    before = env.magics.frozen_config().kernel_key()
    try:
        jobs = env.shell.run_line_magic("sgr", "cluster local 1")
        assert isinstance(jobs, Table) and jobs.title == "sgr jobs held: 0"
        (workers,) = shown
        assert isinstance(workers, Table) and len(workers.rows) == 1
        address = env.magics.frozen_config().dask_address
        assert address and address.startswith("tcp://")
        assert "1 worker(s)" in repr(workers) and address in repr(workers)
        assert env.magics.frozen_config().kernel_key() != before  # new runs get a Dask kernel
        again = env.shell.run_line_magic("sgr", "cluster jobs")
        assert isinstance(again, Table)
    finally:
        cluster = getattr(env.magics, "_local_cluster", None)
        if cluster is not None:
            cluster.close()


def test_remote_progress_shows_as_percent_and_message_in_the_widget_log() -> None:
    from sgr_jupyter._fold import RunFold
    from sgr_kernel.trace.base import Record, RecordType

    fold = RunFold()
    data = {"kind": "progress", "key": "r:a:1", "seq": 3, "fraction": 0.4, "message": "2/5"}
    fold.apply(Record(seq=1, ts=1.0, type=RecordType.EVENT, step="a", data=data))
    assert list(fold.log) == [{"step": "a", "text": "40% 2/5"}]
