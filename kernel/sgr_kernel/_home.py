"""Where the store lives: the one resolution of ``SGR_HOME`` (nothing below it imports)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["default_root"]


def default_root(
    value: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Path:
    """The store root: ``value`` if given and not empty, else ``SGR_HOME`` (from ``env``, the
    process environment by default) if set and not empty, else ``~/.sgr``. An empty setting
    never means the current directory."""
    text = os.fspath(value) if value is not None else ""
    if not text.strip():
        text = (os.environ if env is None else env).get("SGR_HOME", "")
    if not text.strip():
        text = "~/.sgr"
    return Path(text).expanduser()
