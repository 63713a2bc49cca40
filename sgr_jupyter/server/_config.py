"""Traitlets at the edge (STYLE 14): the server's settings, read once into the service."""

from __future__ import annotations

from traitlets import Unicode
from traitlets.config import Configurable

API_PREFIX = "sgr/api/v1"
"""Where the REST API lives under the server's base URL."""


class SgrServer(Configurable):
    """``c.SgrServer.*`` in ``jupyter_server_config.py``."""

    home = Unicode(
        "",
        help="The trace store root the side panel shows (default: SGR_HOME or ~/.sgr).",
    ).tag(config=True)
