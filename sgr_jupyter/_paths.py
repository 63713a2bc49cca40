"""Where the built front-end assets live inside the package (build output, not in git)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["labextension_dir", "mermaid_bundle"]

_PKG = Path(__file__).parent


def labextension_dir() -> Path:
    """The prebuilt JupyterLab extension (``jupyter-builder build`` writes it)."""
    return _PKG / "labextension"


def mermaid_bundle() -> Path:
    """The offline Mermaid ESM sent to front ends without JupyterLab's own Mermaid."""
    return _PKG / "static" / "mermaid.mjs"
