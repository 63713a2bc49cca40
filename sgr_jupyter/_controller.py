"""One run as the notebook sees it: what ``_sgr`` and ``--out`` hold, on the session's loop."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sgr_jupyter.display import RunResultView
from sgr_jupyter.widgets import RunView
from sgr_kernel.engine.kernel import Kernel, RunResult
from sgr_kernel.trace.view import RequestTrace

if TYPE_CHECKING:
    from sgr_jupyter.session import Session

__all__ = ["RunController"]


class RunController:
    """One run as the notebook sees it: ``_sgr`` and ``--out`` hold these.

    Attributes:
        run_id: The run's id.
        view: The live widget, or ``None`` when the run was started without one.
        result: The kernel's ``RunResult`` once the run has ended, else ``None``.
    """

    def __init__(self, session: Session, kernel: Kernel, view: RunView | None) -> None:
        self.run_id = ""
        self.view = view
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self._session, self._kernel = session, kernel
        self._done = concurrent.futures.Future[RunResult]()
        self._on_done: list[Callable[[RunController], None]] = []

    @property
    def done(self) -> bool:
        return self._done.done()

    @property
    def status(self) -> str:
        if self.result is not None:
            return self.result.status.value
        return self.view.status if self.view is not None else "RUNNING"

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.result.outputs) if self.result is not None else {}

    def wait(self, timeout: float | None = None) -> RunResult:
        """Block until the run ends and return its ``RunResult``."""
        return self._done.result(timeout)

    def wait_for_approval(self, timeout: float | None = 60.0) -> list[str]:
        """Block until a step waits for approval (its ids) or the run ends (``[]``)."""
        if self.view is None:
            raise RuntimeError("this run has no view to watch; use wait()")
        view = self.view
        tick = threading.Event()
        waited = 0.0
        while timeout is None or waited < timeout:
            with view._lock:
                waiting = view.fold.waiting()
            if waiting or self.done:
                return waiting
            tick.wait(0.02)
            waited += 0.02
        raise TimeoutError(f"no step of {self.run_id} waited for approval in {timeout} s")

    def summary(self) -> RunResultView:
        """The deterministic table of a run (what ``%%sgr --wait`` shows)."""
        from sgr_jupyter._views import result_view

        return result_view(self)

    def approve(self, step_id: str, by: str = "user") -> None:
        self._session.call_sync(lambda: self._kernel.approve(self.run_id, step_id, by=by))

    def deny(self, step_id: str, reason: str = "") -> None:
        self._session.call_sync(lambda: self._kernel.deny(self.run_id, step_id, reason=reason))

    def cancel(self) -> None:
        self._session.call(lambda: self._kernel.cancel(self.run_id))

    def show(self) -> RequestTrace:
        """The run's trace view."""
        api = self._session.api(self._kernel)
        return self._session.call_sync(lambda: api.view(self.run_id))

    def artifact(self, sha256: str) -> bytes:
        """The bytes of one of this run's artifacts (figures, files) that a step output names."""
        api = self._session.api(self._kernel)
        return self._session.call_sync(lambda: api.artifact(self.run_id, sha256))[1]

    def show_artifacts(self, step_id: str) -> list[str]:
        """Display a step's inline artifacts; return every artifact's name.

        What the runs API flags inline (PNG, JPEG, GIF, WebP images; MP4 videos, embedded with
        player controls) is shown with IPython's own display objects, so a saved notebook keeps
        it; other files (HTML, SVG...) are listed by name only.
        """
        from IPython.display import Image, Video, display

        api = self._session.api(self._kernel)
        arts = self._session.call_sync(lambda: api.artifacts(self.run_id, step_id))
        for art in arts:
            if not art.inline:
                continue
            data = self.artifact(art.sha256)
            if art.media_type.startswith("video/"):
                attrs = "controls loop"
                display(
                    Video(data=data, embed=True, mimetype=art.media_type, html_attributes=attrs)
                )
            else:
                display(Image(data=data, format=art.media_type.split("/")[1]))
        return [art.name for art in arts]

    def add_done_callback(self, fn: Callable[[RunController], None]) -> None:
        """Call ``fn(self)`` when the run ends (on the loop thread), or now if it has."""
        if self.done:
            fn(self)
        else:
            self._on_done.append(fn)

    def _finish(self, result: RunResult | None, error: BaseException | None) -> None:
        self.result, self.error = result, error
        if self.view is not None:
            self.view.flush()
        for fn in self._on_done:
            with contextlib.suppress(Exception):  # a user callback must not kill the loop
                fn(self)
        if error is not None or result is None:
            self._done.set_exception(error or RuntimeError("the run ended with no result"))
        else:
            self._done.set_result(result)

    def __repr__(self) -> str:
        name = self.view.name if self.view is not None else ""
        return f"<sgr run {name!r}: {self.status}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Displayed again (``_sgr`` in a cell): a new view, live while the run lives here."""
        from sgr_jupyter._reattach import view_of

        return view_of(self)._repr_mimebundle_(**kwargs)
