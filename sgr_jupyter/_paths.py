"""Where the built front-end assets live inside the package (build output, not in git)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["installed_labextension", "labextension_dir", "mermaid_bundle"]

_PKG = Path(__file__).parent


def labextension_dir() -> Path:
    """The prebuilt JupyterLab extension (``jupyter-builder build`` writes it)."""
    return _PKG / "labextension"


def mermaid_bundle() -> Path:
    """The offline Mermaid ESM sent to front ends without JupyterLab's own Mermaid."""
    return _PKG / "static" / "mermaid.mjs"


def installed_labextension() -> Path | None:
    """Where JupyterLab finds our extension (``share/jupyter/labextensions``), if anywhere."""
    from jupyter_core.paths import jupyter_path

    for root in jupyter_path("labextensions"):
        found = Path(root) / "sgr-jupyter" / "package.json"
        if found.is_file():
            return found.parent
    return None
