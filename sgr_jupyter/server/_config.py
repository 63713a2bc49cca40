"""Traitlets at the edge: the server's settings, read once into the service."""

from __future__ import annotations

from traitlets import Float, Unicode
from traitlets.config import Configurable

API_PREFIX = "sgr/api/v1"
"""Where the REST API lives under the server's base URL."""


class SgrServer(Configurable):
    """``c.SgrServer.*`` in ``jupyter_server_config.py``."""

    home = Unicode(
        "",
        help="The trace store root the side panel shows (default: SGR_HOME or ~/.sgr).",
    ).tag(config=True)

    steer_wait_s = Float(
        10.0,
        min=0.0,
        help="How long an approve/deny/cancel posted to a run live in another process (a "
        "notebook kernel) is watched for before the API answers 202 (posted, not applied yet).",
    ).tag(config=True)
