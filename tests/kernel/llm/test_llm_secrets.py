"""A canary API key set in the environment and in config never lands in a trace, artifact or log.

Runs the real ``sgr`` CLI (plan with the LLM, run, show, replay, export) against the loopback
OpenAI-compatible server, once with the key from ``SGR_API_KEY`` and once from
``$SGR_HOME/config.toml``, with the SDK's debug logging on, then scans every file under
``SGR_HOME`` (except the config file that legitimately holds the key) for either canary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sgr_kernel.llm.config import load_settings, make_client
from sgr_kernel.testing.openai_server import OpenAITestServer, Reply

ENV_KEY = "sk-canary-env-7f3a9c1e5b"
CONFIG_KEY = "sk-canary-cfg-2d8e4b6a0c"


def _reply(body: dict[str, Any]) -> Reply:
    name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
    if name == "PlannerOutput":
        step = {"skill": "answer", "inputs": {"question": "What is 2 + 2?", "context": None}}
        return Reply.json({"steps": [step]})
    return Reply.json({"reasoning": "Two plus two.", "answer": "4"})


def _sgr(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "sgr_kernel.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    n = len(list(logs.iterdir()))
    (logs / f"{n:02d}-{args[0]}.out").write_text(proc.stdout)
    (logs / f"{n:02d}-{args[0]}.err").write_text(proc.stderr)
    return proc


def _session(home: Path, srv: OpenAITestServer, env_key: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGR_", "OPENAI_"))}
    env.update(
        SGR_HOME=str(home),
        SGR_BASE_URL=srv.base_url,
        SGR_MODEL="test-model",
        OPENAI_LOG="debug",  # the SDK's own request logging, to stderr, scanned below
    )
    if env_key:
        env["SGR_API_KEY"] = env_key
    run = _sgr(home, env, "run", "What is 2 + 2?", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    run_id = json.loads(run.stdout)["run_id"]
    out = {}
    for cmd in ("show", "replay", "export"):
        proc = _sgr(home, env, cmd, run_id, "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out[cmd] = json.loads(proc.stdout)
    assert out["replay"]["live_calls"] == 0 and out["show"]["status"] == "COMPLETED"
    # In-process surfaces: settings and client reprs, dumps and errors.
    settings = load_settings(env=env)
    client = make_client(settings)
    texts = [repr(settings), str(settings), settings.model_dump_json(), repr(client)]
    (home / "logs" / "reprs.txt").write_text("\n".join(texts))


def test_canary_keys_never_written(tmp_path: Path) -> None:
    home = tmp_path / "sgr-home"
    home.mkdir()
    config = home / "config.toml"
    config.write_text(f'api_key = "{CONFIG_KEY}"\n')
    with OpenAITestServer(default=_reply, api_key=ENV_KEY) as srv:
        _session(home, srv, ENV_KEY)  # the environment's key wins over config.toml
        used = {r.headers.get("authorization") for r in srv.requests}
        assert used == {f"Bearer {ENV_KEY}"}
    with OpenAITestServer(default=_reply, api_key=CONFIG_KEY) as srv:
        _session(home, srv, None)  # only config.toml holds a key
        assert {r.headers.get("authorization") for r in srv.requests} == {f"Bearer {CONFIG_KEY}"}
    files = [p for p in home.rglob("*") if p.is_file() and p != config]
    hits = []
    for path in files:
        data = path.read_bytes()
        hits += [f"{path}: {k}" for k in (ENV_KEY, CONFIG_KEY) if k.encode() in data]
    runs = len(list((home / "runs").iterdir()))
    print(f"FIGURE secrets files_scanned={len(files)} runs={runs} hits={len(hits)}")
    assert runs == 2 and len(files) > 10
    debug_log = sum(p.stat().st_size for p in files if p.name.endswith("-run.err"))
    assert debug_log > 0  # the SDK's debug log was on, and scanned
    assert hits == []
