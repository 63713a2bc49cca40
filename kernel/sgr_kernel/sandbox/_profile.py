"""The hardened container profile (docs/sandbox.md) as docker SDK ``create`` arguments.

One function builds it, so the policy test can ``docker inspect`` what the real code path
created. Weakening it is possible only through an explicit ``overrides`` mapping, which exists
for the negative-control test that proves the hostile-payload oracles bite.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sgr_kernel._procs import owner_tag
from sgr_kernel.sandbox.base import SandboxLimits

__all__ = [
    "LABEL",
    "OWNER_LABEL",
    "RUN_LABEL",
    "container_kwargs",
    "sandbox_user",
]

LABEL = "sgr.sandbox"
RUN_LABEL = "sgr.run_id"
OWNER_LABEL = "sgr.owner"
WORKSPACE = "/workspace"
INPUTS = "/inputs"
RUNNER_CMD = ["/usr/bin/python3.11", "-I", "-B", "/opt/sgr/runner.py"]
SANDBOX_UID = 65534
RUNSC_MIN_PIDS = 512  # gVisor's own threads count against the pids limit


def sandbox_user() -> str:
    """The container user: nobody when we run as root, else our own non-root uid.

    A non-root host user cannot hand the workspace to uid 65534, so the container runs as
    that user instead (still non-root, still with every capability dropped).
    """
    if os.geteuid() == 0:
        return f"{SANDBOX_UID}:{SANDBOX_UID}"
    return f"{os.getuid()}:{os.getgid()}"


def container_kwargs(
    *,
    image: str,
    run_id: str,
    workspace: Path,
    limits: SandboxLimits,
    inputs: Path | None = None,
    runtime: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Arguments for ``client.containers.create`` giving the hardened profile."""
    from docker.types import LogConfig, Ulimit

    mem = f"{limits.memory_mb}m"
    fsize = max(limits.artifact_bytes, limits.tmpfs_mb << 20)
    pids = max(limits.pids, RUNSC_MIN_PIDS) if runtime == "runsc" else limits.pids
    volumes: dict[str, dict[str, str]] = {str(workspace): {"bind": WORKSPACE, "mode": "rw"}}
    if inputs is not None:
        volumes[str(inputs)] = {"bind": INPUTS, "mode": "ro"}
    kw: dict[str, Any] = {
        "image": image,
        "command": RUNNER_CMD,
        "stdin_open": True,
        # detach=False with stdin_open sets StdinOnce: the container's stdin closes when our
        # attach socket does, so a killed kernel takes its container with it (the runner
        # exits on EOF, auto_remove deletes it). We never wait on the container itself.
        "detach": False,
        "tty": False,
        "auto_remove": True,
        "init": True,
        "network_mode": "bridge" if limits.network else "none",
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,noexec,nosuid,nodev,size={limits.tmpfs_mb}m"},
        "user": sandbox_user(),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "privileged": False,
        "pids_limit": pids,
        "mem_limit": mem,
        "memswap_limit": mem,  # swap equal to memory: no swap on top of the limit
        "nano_cpus": int(limits.cpus * 1e9),
        "ulimits": [
            Ulimit(name="nofile", soft=256, hard=256),
            Ulimit(name="core", soft=0, hard=0),
            Ulimit(name="fsize", soft=fsize, hard=fsize),
        ],
        "volumes": volumes,
        "working_dir": WORKSPACE,
        "hostname": "sandbox",
        "environment": {
            "SGR_OUTPUT_BYTES": str(limits.output_bytes),
            "SGR_RESULT_BYTES": str(limits.result_bytes),
            "SGR_RESULT_DEPTH": str(limits.result_depth),
            "SGR_OUT_DIR": f"{WORKSPACE}/out",
        },
        "labels": {LABEL: "1", RUN_LABEL: run_id[:200], OWNER_LABEL: owner_tag()},
        # No log driver: a flood to the container's stderr must not fill the host's disk.
        "log_config": LogConfig(type=LogConfig.types.NONE),
    }
    if runtime:
        kw["runtime"] = runtime
    if overrides:
        kw.update(overrides)
    return kw
