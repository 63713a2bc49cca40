"""Sub-commands of ``sgr`` contributed by installed packages (``sgr.cli`` entry points).

The kernel cannot import the skills (imports go one way), yet some skills bring commands of
their own (``sgr corpus`` from deep research). Each entry point names a function
``add_commands(cmd)``, called with the same sub-command maker the built-in commands use. A
plug-in that cannot be imported (its optional dependency is missing) is left out, as
skills are; one that clashes with a built-in command name is refused.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from sgr_kernel.errors import ConfigError

__all__ = ["ENTRY_POINT_GROUP", "add_plugin_commands"]

ENTRY_POINT_GROUP = "sgr.cli"

CommandMaker = Callable[[str, str, Callable[..., Any]], argparse.ArgumentParser]


def add_plugin_commands(cmd: CommandMaker) -> list[str]:
    """Let every ``sgr.cli`` entry point add its sub-commands; returns the plug-ins loaded."""
    loaded: list[str] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            add = ep.load()
        except ImportError:
            continue
        if not callable(add):
            raise ConfigError(f"sgr.cli entry point {ep.name!r} ({ep.value}) is not callable")
        try:
            add(cmd)
        except argparse.ArgumentError as e:  # a name a built-in command already has
            raise ConfigError(f"sgr.cli entry point {ep.name!r}: {e}") from None
        loaded.append(ep.name)
    return loaded
