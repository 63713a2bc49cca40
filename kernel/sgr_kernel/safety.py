"""Bounds on untrusted input and safe display of untrusted text, shared by every surface.

Everything that enters from outside (plan files and cells, ``--inputs``, REST bodies, model
and sandbox text) passes through here before the kernel acts on it:

- :func:`check_shape` walks a parsed value without recursion and refuses nesting deeper than
  :data:`MAX_DEPTH`, more than :data:`MAX_NODES` values, and non-finite numbers;
- :func:`loads_json` parses JSON text with a byte limit and turns every way JSON can fail
  (syntax, depth, a number past Python's digit limit) into one :class:`SgrUsageError`;
- :func:`safe_text` strips terminal control and escape sequences (clear screen, window title,
  OSC 52 clipboard writes) from text that is about to be printed.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from sgr_kernel.errors import SgrUsageError

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_SHOWN",
    "ShapeError",
    "check_shape",
    "clip",
    "loads_json",
    "safe_text",
]

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted in any input value."""

MAX_NODES = 200_000
"""Most values (scalars, mappings, lists, counted after alias expansion) in one input."""

MAX_SHOWN = 500
"""Longest piece of user-supplied text echoed back inside an error message."""


class ShapeError(ValueError):
    """A value is too deep, too large, or holds a number that is not finite."""


def check_shape(
    value: Any,
    *,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
    json_only: bool = False,
) -> None:
    """Refuse a parsed value that is nested too deep, too large, or holds NaN/infinity; with
    ``json_only``, also one holding anything but JSON values (YAML's dates, sets, binary) or
    a mapping key that is not a string.

    Iterative, so a hostile value cannot exhaust the stack; shared sub-values (YAML aliases)
    are counted every time they occur, so an alias bomb is refused early rather than walked.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > max_nodes:
            raise ShapeError(f"more than {max_nodes} values; pass large data as a file")
        if isinstance(node, float) and not math.isfinite(node):
            raise ShapeError(f"{node!r} is not a finite number")
        if json_only and not isinstance(node, _JSON_TYPES):
            raise ShapeError(
                f"{type(node).__name__} value {clip(str(node), 60)!r} is not JSON data; "
                "write it as a quoted string"
            )
        if json_only and isinstance(node, dict) and not all(isinstance(k, str) for k in node):
            bad = next(k for k in node if not isinstance(k, str))
            raise ShapeError(f"mapping key {clip(str(bad), 60)!r} is not a string; quote it")
        if isinstance(node, dict | list | tuple):
            if depth >= max_depth:
                raise ShapeError(f"nested deeper than {max_depth} levels")
            children = node.values() if isinstance(node, dict) else node
            if len(children) + seen > max_nodes:
                raise ShapeError(f"more than {max_nodes} values; pass large data as a file")
            stack.extend((c, depth + 1) for c in children)


def loads_json(text: str | bytes, *, what: str, max_bytes: int = 4 * 1024 * 1024) -> Any:
    """Parse JSON from outside; every failure is one :class:`SgrUsageError` naming ``what``."""
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > max_bytes:
        raise SgrUsageError(f"{what} is {size} bytes, over the {max_bytes} byte limit")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SgrUsageError(f"{what} is not UTF-8 text (byte {e.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SgrUsageError(f"{what} is not valid JSON (line {e.lineno}: {e.msg})") from None
    except RecursionError:
        raise SgrUsageError(f"{what} is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:  # e.g. an integer past Python's digit limit
        raise SgrUsageError(f"{what} is not usable JSON: {clip(str(e), 120)}") from None
    try:
        check_shape(data)
    except ShapeError as e:
        raise SgrUsageError(f"{what}: {e}") from None
    return data


_JSON_TYPES = (str, int, float, bool, type(None), dict, list, tuple)


# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte ESC sequences, and the
# C1 forms of CSI/OSC/DCS; then any remaining C0/C1 control but tab and newline.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x90\x9d\x9e\x9f][^\x07\x9c]*[\x07\x9c]?"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(text: str) -> str:
    """``text`` with terminal escape sequences and control characters removed.

    Tabs and newlines stay; a carriage return becomes a newline so it cannot overwrite a line
    already shown. Use it on anything a sandbox, a model or a user wrote before printing it.
    """
    text = _ESCAPES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROLS.sub("", text)


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"
