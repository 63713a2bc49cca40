"""The Jupyter face of sgr: ``%load_ext sgr_jupyter``, ``%%sgr``, the RunView widget.

Importing this package is cheap: the magics, widgets and server extension load when IPython
or Jupyter Server asks for them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "load_ipython_extension",
    "unload_ipython_extension",
]

_MAGICS: dict[int, Any] = {}


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%sgr`` / ``%%sgr`` magics (``%load_ext sgr_jupyter``)."""
    from sgr_jupyter.magics import SgrMagics

    if id(ipython) in _MAGICS:
        return
    magics = SgrMagics(shell=ipython)
    _MAGICS[id(ipython)] = magics
    ipython.register_magics(magics)


def unload_ipython_extension(ipython: Any) -> None:
    """Stop the session's loop thread (live runs stay resumable from their traces)."""
    magics = _MAGICS.pop(id(ipython), None)
    if magics is not None:
        magics.session.close()
