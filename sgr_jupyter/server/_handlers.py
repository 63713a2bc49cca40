"""REST handlers: HTTP in, one ``sgr_kernel.runs.Runs`` call, JSON out. Nothing else here.

::

    GET  /sgr/api/v1/runs                       {"runs": [RunSummary, ...]}
    GET  /sgr/api/v1/runs/RUN                   RunDetail (summary, view, mermaid, artifacts)
    GET  /sgr/api/v1/runs/RUN/export            the `sgr export` JSON, as a download
    GET  /sgr/api/v1/runs/RUN/artifacts/SHA256  an artifact a step output references
    POST /sgr/api/v1/runs/RUN/approve           {"step", "resume"?}        -> Steered
    POST /sgr/api/v1/runs/RUN/deny              {"step", "reason"?, "resume"?} -> Steered
    POST /sgr/api/v1/runs/RUN/cancel            {"reason"?}                -> Steered
    POST /sgr/api/v1/runs/RUN/resume            {}                         -> RunSummary

``Steered`` is the run's summary plus ``delivered`` (``live`` | ``recorded`` | ``posted``) and
``applied``. A run live in another process (a notebook kernel) gets approve/deny/cancel through
its inbox (ADR 011); the handler answers once that process has recorded it (200), or after a
short bounded wait with ``applied: false`` (202 Accepted: posted, not yet taken; it stays
posted). ``"resume": true`` resumes a run here only when the decision was *recorded* into a
stopped run.

Errors are ``{"error": CODE, "message": ...}`` (the message bounded, never the request body
echoed whole): 400 bad input (a body over 64 KiB, not JSON, nested too deep), 404 unknown
run, 409 a step not waiting or already decided (also when decided meanwhile in the notebook), 409
``run-live-elsewhere`` (with ``hint``) for a resume of a run live in another process, 500 a
damaged trace, 500 ``internal`` for anything unexpected (logged on the server).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from pydantic import BaseModel
from tornado import web

from sgr_jupyter.server._config import API_PREFIX
from sgr_kernel.boundary import classify
from sgr_kernel.errors import (
    ApprovalError,
    InvalidRunIdError,
    RunNotFoundError,
    SgrUsageError,
    TraceError,
    TraceLockedError,
)
from sgr_kernel.models.plan import STEP_ID_PATTERN
from sgr_kernel.runs import Runs, RunSummary, Steered
from sgr_kernel.safety import MAX_SHOWN, loads_json

_RUN = r"(?P<run_id>[^/]+)"
MAX_BODY = 64 * 1024
"""Largest request body read; every action's body is a few short fields."""
STEP_ID = re.compile(STEP_ID_PATTERN)
_ACTIONS = ("approve", "deny", "cancel", "resume")
LIVE_ELSEWHERE_HINT = (
    "it is already running in another process (a notebook kernel?): approve, deny or cancel "
    "it from here, or stop it there and resume it then"
)
"""What to do instead of resuming a run live in another process (sent with the 409)."""


def _status_of(e: Exception) -> tuple[int, str, str | None]:
    """HTTP status, error code and hint for a service error."""
    if isinstance(e, RunNotFoundError):
        return 404, e.code, None
    if isinstance(e, TraceLockedError):
        return 409, "run-live-elsewhere", LIVE_ELSEWHERE_HINT
    if isinstance(e, ApprovalError):
        return 409, e.code, None
    if isinstance(e, InvalidRunIdError | SgrUsageError):
        return 400, e.code, None
    if isinstance(e, TraceError):
        return 500, "trace", None
    return 500, "internal", "see the server log"


class _Base(APIHandler):
    service: Runs

    def initialize(self, service: Runs) -> None:
        self.service = service

    def _reply(self, value: BaseModel | dict[str, Any] | list[Any]) -> None:
        if isinstance(value, BaseModel):
            self.finish(value.model_dump_json())
        else:
            self.finish(json.dumps(value))

    def _fail(self, e: Exception) -> None:
        status, code, hint = _status_of(e)
        if status == 500:
            self.log.error("sgr: %s failed", self.request.path, exc_info=e)
        # One bounded line: the message may quote the request (a step id of 30 MB...).
        body: dict[str, Any] = {"error": code, "message": classify(e).message[:MAX_SHOWN]}
        if hint:
            body["hint"] = hint
        self.set_status(status)
        self.finish(json.dumps(body))

    def _body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        data = loads_json(self.request.body, what="the request body", max_bytes=MAX_BODY)
        if not isinstance(data, dict):
            raise SgrUsageError("the request body must be a JSON object")
        return data


class RunsHandler(_Base):
    @web.authenticated
    def get(self) -> None:
        try:
            runs = self.service.summaries(newest_first=True)
            self._reply({"root": str(self.service.root), "runs": _dump(runs)})
        except Exception as e:
            self._fail(e)


class RunHandler(_Base):
    @web.authenticated
    def get(self, run_id: str) -> None:
        try:
            self._reply(self.service.detail(run_id))
        except Exception as e:
            self._fail(e)


class ExportHandler(_Base):
    @web.authenticated
    def get(self, run_id: str) -> None:
        try:
            body = self.service.export(run_id)
        except Exception as e:
            self._fail(e)
            return
        self.set_header("Content-Disposition", f'attachment; filename="sgr-{run_id}.json"')
        self.finish(json.dumps(body, indent=2, sort_keys=True))


class ArtifactHandler(JupyterHandler):
    """Not an APIHandler: that one forces ``Content-Type: application/json`` on every reply.

    Served inline only when the runs API flags it inline (an allowlisted image or video):
    anything else written by sandboxed code (HTML, SVG...) would run with the server's origin,
    so it is a download.
    """

    def initialize(self, service: Runs) -> None:
        self.service = service

    def _error(self, status: int, code: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": code, "message": message}))

    @web.authenticated
    def get(self, run_id: str, sha256: str) -> None:
        try:
            art, data = self.service.artifact(run_id, sha256)
        except KeyError:
            self._error(404, "artifact", f"run {run_id!r} references no artifact {sha256!r}")
            return
        except Exception as e:
            status, code, _ = _status_of(e)
            self._error(status, code, classify(e).message[:MAX_SHOWN])
            return
        inline = art.inline
        self.set_header("Content-Type", art.media_type if inline else "application/octet-stream")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in art.name)[:100]
        kind = "inline" if inline else "attachment"
        self.set_header("Content-Disposition", f'{kind}; filename="{safe}"')
        self.finish(data)


class ActionHandler(_Base):
    @web.authenticated
    async def post(self, run_id: str, action: str) -> None:
        svc = self.service
        result: RunSummary
        try:
            body = self._body()
            if action in ("approve", "deny"):
                step = body.get("step")
                if not isinstance(step, str) or not STEP_ID.match(step):
                    raise SgrUsageError(f'{action} needs {{"step": "STEP_ID"}} in the body')
                by = f"panel:{self.current_user.username}" if self.current_user else "panel"
                reason = body.get("reason") if action == "deny" else None
                why = str(reason) if reason else None
                steered = await svc.decide(
                    run_id, step, approved=action == "approve", by=by, reason=why
                )
                result = steered
                # Only a decision recorded into a stopped run needs this process to go on.
                if body.get("resume") and steered.delivered == "recorded" and steered.resumable:
                    resumed = await svc.resume(run_id)
                    result = Steered(**dict(resumed), delivered="recorded", applied=True)
            elif action == "cancel":
                reason = body.get("reason")
                result = await svc.cancel(
                    run_id, str(reason) if reason else "cancelled from the side panel"
                )
            else:
                result = await svc.resume(run_id)
        except Exception as e:
            self._fail(e)
            return
        if isinstance(result, Steered) and not result.applied:
            self.set_status(202)  # posted to the run's process, not recorded by it yet
        self._reply(result)


def _dump(items: Sequence[BaseModel]) -> list[Any]:
    return [json.loads(i.model_dump_json()) for i in items]


def routes(base_url: str, service: Runs) -> list[tuple[str, type[Any], dict[str, Any]]]:
    """The URL table, rooted at the server's base URL."""
    root = url_path_join(base_url, API_PREFIX)
    kw = {"service": service}
    actions = "|".join(_ACTIONS)
    return [
        (url_path_join(root, "runs"), RunsHandler, kw),
        (url_path_join(root, "runs", _RUN), RunHandler, kw),
        (url_path_join(root, "runs", _RUN, "export"), ExportHandler, kw),
        (url_path_join(root, "runs", _RUN, "artifacts", r"(?P<sha256>[^/]+)"), ArtifactHandler, kw),
        (url_path_join(root, "runs", _RUN, f"(?P<action>{actions})"), ActionHandler, kw),
    ]
