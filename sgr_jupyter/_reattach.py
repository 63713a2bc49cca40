"""A new view of a run the session knows: live while it runs here, else its record from the log.

Displaying ``_sgr`` (or any :class:`~sgr_jupyter.session.RunController`) again, in a new or
re-executed cell, gives a fresh RunView: attached to the live run (seeded from the kernel's
state, then fed live, with its own heartbeat), or, once the run has stopped, folded from its
log, so it shows the final state and answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sgr_jupyter.widgets import RunView

if TYPE_CHECKING:
    from sgr_jupyter.session import RunController

__all__ = ["view_of"]


def view_of(ctl: RunController) -> RunView:
    """A new RunView of ``ctl``'s run (see the module docstring)."""
    old = ctl.view
    view = RunView(
        name=old.name if old is not None else "",
        throttle_s=old.throttle_s if old is not None else 0.1,
        answer_format=(old.answer_format if old is not None else "markdown"),  # type: ignore[arg-type]
    )
    session, kernel = ctl._session, ctl._kernel
    if session.attach(ctl.run_id, view) is None:
        log = session.call_sync(lambda: kernel.store.read(ctl.run_id))
        view.feed_many(log.records)
    view._on_approve = ctl.approve
    view._on_deny = lambda step: ctl.deny(step, reason="denied in the widget")
    view._artifact_reader = ctl.artifact
    view.describe_start()
    return view
