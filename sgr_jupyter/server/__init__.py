"""The jupyter-server extension: thin REST handlers under ``/sgr/api/v1/`` over
:class:`sgr_kernel.runs.Runs`, for the JupyterLab side panel.

Enabled by ``jupyter-config/jupyter_server_config.d/sgr_jupyter.json`` (installed by pip).
Settings: ``c.SgrServer.home`` (the store root; default ``SGR_HOME`` or ``~/.sgr``),
``c.SgrServer.steer_wait_s`` (how long a decision posted to a run live in a notebook kernel is
watched for before answering 202).
"""

from __future__ import annotations

from typing import Any

from sgr_jupyter.server._config import API_PREFIX, SgrServer

__all__ = ["API_PREFIX", "SgrServer"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "sgr_jupyter.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Build the service and route the API (called once by jupyter-server)."""
    from sgr_jupyter.server._handlers import routes
    from sgr_kernel.runs import Runs

    settings = SgrServer(config=serverapp.config)
    service = Runs.at(settings.home, steer_wait_s=settings.steer_wait_s)
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(".*$", routes(base_url, service))
    serverapp.log.info("sgr: run API at %s%s/ over %s", base_url, API_PREFIX, service.root)
