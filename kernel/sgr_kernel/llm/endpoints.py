"""What each OpenAI-compatible endpoint was found to support, cached across processes.

One JSON file, ``$SGR_HOME/endpoints.json`` (default ``~/.sgr/endpoints.json``), maps
``base_url|model`` to the chosen structured-output mode and what each probed mode answered.
The provider probes an endpoint once and reads the cache afterwards; ``sgr doctor`` shows it;
deleting the file (or a server upgrade that refuses the cached mode) makes it probe again.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.llm.settings import config_path
from sgr_kernel.llm.structured import MODES, Mode

__all__ = ["EndpointInfo", "cache_path", "forget", "load", "save"]


class EndpointInfo(BaseModel):
    """The structured-output mode chosen for one endpoint and model, and why."""

    model_config = ConfigDict(frozen=True)

    base_url: str
    model: str
    mode: Mode = Field(description="The strongest mode the server enforces.")
    tried: dict[str, str] = Field(
        default_factory=dict, description="Each probed mode: enforced, refused (…), ignored."
    )
    probed_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def cache_path(env: Mapping[str, str] | None = None) -> Path:
    """``$SGR_HOME/endpoints.json``."""
    return config_path(env).parent / "endpoints.json"


def _key(base_url: str, model: str) -> str:
    return f"{base_url.rstrip('/')}|{model}"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}  # a missing or damaged cache only costs a new probe
    return cast(dict[str, Any], data) if isinstance(data, dict) else {}


def load(base_url: str, model: str, path: Path | None = None) -> EndpointInfo | None:
    """The cached choice for this endpoint and model, if any (and still a known mode)."""
    raw = _read(path or cache_path()).get(_key(base_url, model))
    if not isinstance(raw, dict) or raw.get("mode") not in MODES:
        return None
    try:
        return EndpointInfo.model_validate(raw)
    except ValueError:
        return None


def save(info: EndpointInfo, path: Path | None = None) -> None:
    """Record ``info`` (atomically; an unwritable home only loses the cache)."""
    path = path or cache_path()
    data = _read(path)
    data[_key(info.base_url, info.model)] = info.model_dump(mode="json")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".endpoints.")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        return


def forget(base_url: str, model: str, path: Path | None = None) -> None:
    """Drop the cached choice, so the next call probes again."""
    path = path or cache_path()
    data = _read(path)
    if data.pop(_key(base_url, model), None) is not None:
        try:
            path.write_text(json.dumps(data, indent=2, sort_keys=True))
        except OSError:
            return
