"""Dispatcher settings: one frozen value with the same precedence as the LLM settings.

Precedence, highest first:

1. explicit arguments to :func:`load_dispatch_settings`;
2. the environment: ``SGR_DISPATCHER`` (``auto`` | ``inline`` | ``dask``) and ``SGR_DASK_ADDRESS``
   (a scheduler address; setting it implies ``dask``);
3. ``[tool.sgr]`` ``dispatcher = …`` and the ``[tool.sgr.dask]`` table in the project's
   ``pyproject.toml``;
4. ``$SGR_HOME/config.toml``: top-level ``dispatcher`` and a ``[dask]`` table;
5. defaults: ``auto`` (Dask when the ``dask`` extra is installed, else inline); Dask with no
   address is an embedded ``LocalCluster``, started on the first remote job.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sgr_kernel.errors import ConfigError
from sgr_kernel.llm.config import _find_pyproject, _read_toml, config_path

__all__ = ["DispatchSettings", "load_dispatch_settings"]

_DASK_KEYS = (
    "address",
    "local_workers",
    "local_threads",
    "resource_wait_s",
    "cancel_grace_s",
    "reconnect_s",
    "connect_timeout_s",
    "allowed_failures",
)


class DispatchSettings(BaseModel):
    """Which dispatcher runs remote jobs, and how the Dask one behaves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dispatcher: Literal["auto", "inline", "dask"] = Field(
        "auto",
        description="auto (dask when the dask extra is installed, else inline) | inline (this "
        "process) | dask (a cluster).",
    )
    address: str | None = Field(
        None, description="Scheduler address (tcp://host:8786); none = an embedded LocalCluster."
    )
    local_workers: int = Field(2, ge=1, description="Workers of the embedded LocalCluster.")
    local_threads: int = Field(1, ge=1, description="Threads per embedded worker.")
    resource_wait_s: float = Field(
        10.0, ge=0, description="How long a job waits for a worker with its resources."
    )
    cancel_grace_s: float = Field(
        2.0, ge=0, description="Cooperative stop time before the job's worker is restarted."
    )
    reconnect_s: float = Field(
        60.0, gt=0, description="How long to wait for a lost scheduler before failing jobs."
    )
    connect_timeout_s: float = Field(10.0, gt=0, description="Deadline to reach the scheduler.")
    allowed_failures: int = Field(
        1, ge=0, description="Worker deaths a job may cause before it is poison (embedded)."
    )
    sources: dict[str, str] = Field(default_factory=dict, description="Where each value came from.")

    @property
    def uses_dask(self) -> bool:
        """Remote jobs go to Dask: chosen, or ``auto`` with ``distributed`` installed."""
        if self.dispatcher == "auto":
            return importlib.util.find_spec("distributed") is not None
        return self.dispatcher == "dask"


def _layer(dispatcher: Any, table: Any, origin: str) -> dict[str, tuple[Any, str]]:
    out: dict[str, tuple[Any, str]] = {}
    if dispatcher is not None:
        out["dispatcher"] = (dispatcher, origin)
    if isinstance(table, Mapping):
        unknown = sorted(set(table) - set(_DASK_KEYS))
        if unknown:
            raise ConfigError(
                f"{origin}: unknown dask setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(_DASK_KEYS)}"
            )
        out.update({k: (v, origin) for k, v in table.items() if v is not None})
    return out


def load_dispatch_settings(
    *,
    env: Mapping[str, str] | None = None,
    project_dir: str | os.PathLike[str] | None = None,
    **explicit: Any,
) -> DispatchSettings:
    """Load settings with the precedence in the module docstring.

    Raises:
        ConfigError: A file is not TOML, a key is unknown or a value is malformed.
    """
    env = os.environ if env is None else env
    layers: list[dict[str, tuple[Any, str]]] = []
    home_cfg = config_path(env)
    home = _read_toml(home_cfg)
    layers.append(_layer(home.get("dispatcher"), home.get("dask"), str(home_cfg)))
    pyproject = _find_pyproject(Path(project_dir or os.getcwd()).resolve())
    if pyproject is not None:
        table = _read_toml(pyproject).get("tool", {}).get("sgr", {})
        layers.append(_layer(table.get("dispatcher"), table.get("dask"), str(pyproject)))
    env_layer: dict[str, tuple[Any, str]] = {}
    if env.get("SGR_DASK_ADDRESS"):
        env_layer["address"] = (env["SGR_DASK_ADDRESS"], "SGR_DASK_ADDRESS")
        env_layer["dispatcher"] = ("dask", "SGR_DASK_ADDRESS")
    if env.get("SGR_DISPATCHER"):
        env_layer["dispatcher"] = (env["SGR_DISPATCHER"], "SGR_DISPATCHER")
    layers.append(env_layer)
    layers.append({k: (v, "explicit") for k, v in explicit.items() if v is not None})
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in layers:
        for key, (value, origin) in layer.items():
            merged[key], sources[key] = value, origin
    if merged.get("address") and "dispatcher" not in merged:
        merged["dispatcher"] = "dask"
    try:
        return DispatchSettings(sources=sources, **merged)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc']))} ({sources.get(str(err['loc'][0]), 'default')}): "
            f"{err['msg']}"
            for err in e.errors(include_input=False)
        )
        raise ConfigError(f"invalid dispatcher settings: {problems}") from None
