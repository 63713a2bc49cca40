"""The live RunView widget (anywidget): DAG, timeline, budget meter, approvals (docs/jupyter.md).

Records arrive on the session's loop thread; :meth:`RunView.feed` folds them under a lock
and schedules at most one flush per ``throttle_s``, so a 1,000-step run sends a few small
messages a second, not one per record. Button clicks arrive on the kernel's main thread
(the cell has returned, so the kernel is free) and go to the session through callbacks.
"""

from __future__ import annotations

import base64
import html
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import traitlets as t

from sgr_jupyter._answer import AnswerFormat, final_answer, render_answer
from sgr_jupyter._fold import RunFold
from sgr_jupyter._live import errors_of, phase_of, waiting_reason
from sgr_jupyter._paths import mermaid_bundle
from sgr_kernel.models.plan import Plan
from sgr_kernel.safety import safe_text
from sgr_kernel.trace.base import Record
from sgr_kernel.trace.state import RunState

__all__ = ["RunView"]

_ESM_FILE = Path(__file__).parent / "_esm" / "runview.js"
# Built from labextension/src/widget/runview.ts by `jlpm build` (which `pip install` runs). A
# tree that was never built still imports; its views say what to run instead of drawing.
_UNBUILT_ESM = """export default { render({ el }) {
  el.textContent = "sgr: the RunView front end is not built: run `make venv` "
    + "(or `jlpm install && jlpm build` in labextension/).";
} };
"""
_ESM: Path | str = _ESM_FILE if _ESM_FILE.is_file() else _UNBUILT_ESM
_BUNDLE = mermaid_bundle()
_MAX_IMAGE = 2_000_000

Scheduler = Callable[[float, Callable[[], None]], None]
"""``schedule(delay_s, fn)``: run ``fn`` later on the thread that feeds records."""


class RunView(anywidget.AnyWidget):
    """A live view of one run. Created by the magics; usable on its own with a fed fold."""

    _esm = _ESM
    bundles_sent: ClassVar[int] = 0
    """How many times this kernel sent the fallback Mermaid bundle (once per page)."""
    run_id = t.Unicode("", help="The run's id.").tag(sync=True)
    name = t.Unicode("", help="The run's name.").tag(sync=True)
    status = t.Unicode("CREATED", help="The run's status.").tag(sync=True)
    reason = t.Unicode("", help="Why the run ended, if it failed or stopped.").tag(sync=True)
    mermaid = t.Unicode("", help="Mermaid structure of the plan (sent once).").tag(sync=True)
    nodes = t.Dict(help="Step id -> Mermaid node id.").tag(sync=True)
    states = t.Dict(help="Step id -> StepStatus, the live colours.").tag(sync=True)
    waiting = t.List(t.Unicode(), help="Steps waiting for approval.").tag(sync=True)
    timeline = t.List(t.Dict(), help="A window of recent step events.").tag(sync=True)
    budget = t.Dict(help="Meter: name -> [used, limit or null].").tag(sync=True)
    log = t.List(t.Dict(), help="Last lines of live output (tokens, stdout).").tag(sync=True)
    selected = t.Unicode("", help="The step whose detail is shown.").tag(sync=True)
    grants = t.Dict(
        help="Step id -> the capabilities it may use (its skill's declaration, narrowed to "
        "what the run and the step grant)."
    ).tag(sync=True)
    detail = t.Dict(help="Detail of the selected step.").tag(sync=True)
    notice = t.Unicode("", help="The last message for the user (e.g. a refusal).").tag(sync=True)
    # The live contract (docs/jupyter.md, "Widget model"): what the front end renders.
    phase = t.Unicode(
        "PLANNING",
        help="The header's state: PLANNING, RUNNING, WAITING_FOR_APPROVAL, PAUSED, COMPLETED, "
        "FAILED, CANCELLED or INTERRUPTED.",
    ).tag(sync=True)
    progress = t.Dict(
        help="Step id -> {fraction: float|None, message, metrics, t: run seconds}."
    ).tag(sync=True)
    stream = t.Dict(
        help="Step id -> the tail (<= 4,000 chars) of the model's streamed text; "
        "'__plan__' for planning."
    ).tag(sync=True)
    started = t.Dict(help="Step id -> run seconds when its current attempt began.").tag(sync=True)
    elapsed = t.Float(0.0, help="Run seconds at the last flush.").tag(sync=True)
    t0 = t.Float(0.0, help="Epoch seconds when the run began (0 before it exists).").tag(sync=True)
    answer = t.Unicode("", help="The final answer (Markdown source) once the run completes.").tag(
        sync=True
    )
    answer_format = t.Unicode("markdown", help="markdown | text | json: how to show answer.").tag(
        sync=True
    )
    heartbeat = t.Int(0, help="Incremented every 2 s by the kernel while the run lives in it.").tag(
        sync=True
    )
    errors = t.Dict(
        help="Step id -> {type, message, traceback, attempt, retried, why_not_retried}."
    ).tag(sync=True)
    approvals = t.Dict(
        help="Step id -> why it waits for approval, in plain words (for each waiting step)."
    ).tag(sync=True)

    def __init__(
        self,
        *,
        name: str = "",
        plan: Plan | None = None,
        budget: Mapping[str, float] | None = None,
        throttle_s: float = 0.1,
        window: int = 200,
        on_approve: Callable[[str], None] | None = None,
        on_deny: Callable[[str], None] | None = None,
        artifact_reader: Callable[[str], bytes] | None = None,
        capabilities: Callable[[Plan], dict[str, list[str]]] | None = None,
        answer_format: AnswerFormat = "markdown",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, answer_format=answer_format, **kwargs)
        self.fold = RunFold(budget, window=window)
        self.throttle_s = throttle_s
        self.flushes = 0
        self._lock = threading.Lock()
        self._pending = False
        self._on_approve, self._on_deny = on_approve, on_deny
        self._artifact_reader = artifact_reader
        self._capabilities = capabilities
        self._given_plan = plan
        if plan is not None:
            self.fold.set_plan(plan)
        self.flush()
        # The static forms (text/plain, text/html) describe what is known before the run
        # starts: its name and plan, never its progress. A notebook saved or tested later shows
        # the same text however far the run had got when the output was captured; the run's
        # result table (``--wait``, ``_sgr.summary()``) is where its outcome is written down.
        self._static = self._static_forms()
        self.on_msg(self._on_front_end_msg)

    # ------------------------------------------------------------ feeding

    def feed(self, rec: Record, schedule: Scheduler | None = None) -> None:
        """Fold a record in; flush now, or once after ``throttle_s`` if ``schedule`` is given."""
        with self._lock:
            self.fold.apply(rec)
            if schedule is None:
                self._flush_locked()
                return
            if self._pending:
                return
            self._pending = True
        schedule(self.throttle_s, self.flush)

    def feed_many(self, records: Iterable[Record]) -> None:
        """Fold many records, then flush once (seeding a view from a stored log)."""
        with self._lock:
            for rec in records:
                self.fold.apply(rec)
            self._flush_locked()

    def seed(self, state: RunState) -> None:
        """Start from a copy of the kernel's own state fold (records after it dedupe by seq)."""
        with self._lock:
            self.fold.seed(state)
            self._flush_locked()

    def flush(self) -> None:
        """Push what changed to the front end in one message."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._pending = False
        fold = self.fold
        dirty = fold.take_dirty()
        if not dirty:
            return
        self.flushes += 1
        with self.hold_sync():
            if "mermaid" in dirty:
                text, nodes = fold.mermaid()
                self.nodes, self.mermaid = nodes, text
                if self._capabilities is not None and fold.plan is not None:
                    self.grants = self._capabilities(fold.plan)
            if "states" in dirty or "mermaid" in dirty:
                self.states = fold.states()
                self.waiting = fold.waiting()
            if "timeline" in dirty:
                self.timeline = list(fold.timeline)
            if "log" in dirty:
                self.log = list(fold.log)
            if "budget" in dirty:
                self.budget = fold.budget()
            if "status" in dirty:
                self.status = fold.state.status.value
                self.reason = fold.state.reason or ""
                if fold.state.status.value == "COMPLETED" and not self.answer:
                    self.answer = self.answer_text()
            if dirty & {"states", "status", "mermaid"}:
                self.phase = phase_of(fold.state)
                self.errors = errors_of(fold.state)
                self.approvals = {
                    sid: waiting_reason(fold.state.steps[sid]) for sid in self.waiting
                }
            live = fold.live
            if "progress" in dirty:
                self.progress = {k: dict(v) for k, v in live.progress.items()}
            if "stream" in dirty:
                self.stream = dict(live.stream)
            if "started" in dirty:
                self.started = dict(live.started)
            self._clock_locked()
            if fold.state.run_id and self.run_id != fold.state.run_id:
                self.run_id = fold.state.run_id
            if fold.state.name and not self.name:
                self.name = fold.state.name
            if self.selected and ("states" in dirty or "budget" in dirty):
                self.detail = self._detail(self.selected)

    def _clock_locked(self) -> None:
        st = self.fold.state
        t0 = self.fold.t0
        if t0 is None:
            return
        if self.t0 != t0:
            self.t0 = t0
        stopped = st.status.terminal or st.status.value in ("PAUSED", "INTERRUPTED")
        end = (st.ended_ts or self.fold.last_ts or t0) if stopped else time.time()
        self.elapsed = round(max(0.0, end - t0), 3)

    def beat(self) -> None:
        """One heartbeat: the session calls it every 2 s while the run lives in this kernel."""
        with self._lock, self.hold_sync():
            self.heartbeat += 1
            self._clock_locked()

    def answer_text(self) -> str:
        """The run's final answer in this view's format ('' until the run has one)."""
        outputs = {k: v.output for k, v in self.fold.state.steps.items() if v.output is not None}
        fmt: AnswerFormat = self.answer_format  # type: ignore[assignment]
        return render_answer(final_answer(self.fold.plan, outputs), fmt)

    # ------------------------------------------------------------ front-end messages

    def _on_front_end_msg(self, _w: Any, content: Any, _buffers: Any) -> None:
        # Not `_handle_msg`: that name is ipywidgets' own comm handler, and overriding it
        # silently dropped every message from the browser (clicks, bundle requests).
        if not isinstance(content, dict):
            return
        kind, step = content.get("type"), str(content.get("step", ""))
        if kind == "need-mermaid":
            if _BUNDLE.is_file():
                self.send({"type": "mermaid-bundle"}, [_BUNDLE.read_bytes()])
                RunView.bundles_sent += 1
            else:
                self.send({"type": "no-mermaid"})
        elif kind == "select":
            self.select(step)
        elif kind in ("approve", "deny"):
            callback = self._on_approve if kind == "approve" else self._on_deny
            if callback is None:
                self.notice = f"this view cannot {kind}: it is not attached to a live session"
                return
            try:
                callback(step)
                self.notice = ""
            except Exception as e:  # shown in the widget: a click has no cell to raise into
                self.notice = f"{kind} {step}: {e}"

    def select(self, step_id: str) -> None:
        """Open a step's detail panel (what a node click does)."""
        with self._lock:
            self.selected = step_id
            self.detail = self._detail(step_id)

    def _detail(self, step_id: str) -> dict[str, Any]:
        d = self.fold.detail(step_id)
        media: dict[str, list[str]] = {"images": [], "videos": []}
        if self._artifact_reader is not None:
            for art in d.get("artifacts", []):
                kind = str(art.get("media_type"))
                into = "videos" if kind.startswith("video/") else "images"
                if art.get("inline") and (art.get("size") or 0) <= _MAX_IMAGE:
                    try:
                        data = self._artifact_reader(art["sha256"])
                    except (KeyError, OSError):
                        continue
                    b64 = base64.b64encode(data).decode()
                    media[into].append(f"data:{kind};base64,{b64}")
        d.update({k: v for k, v in media.items() if v})  # videos: for a <video> player
        if step_id in self.grants:
            d["capabilities"] = ", ".join(self.grants[step_id]) or "none"
        return d

    # ------------------------------------------------------------ static forms

    def summary(self) -> tuple[str, list[tuple[str, str, str]]]:
        """(headline, [(step, skill, status)]) without ids, times or addresses."""
        with self._lock:
            st = self.fold.state
            plan = st.plan
            rows = []
            if plan is not None:
                rows = [(s.id, s.skill, st.steps[s.id].status.value) for s in plan.steps]
            done = sum(1 for r in rows if r[2] == "COMMITTED")
            head = f"RunView {self.name or st.name or 'run'!r}: {st.status.value}"
            if rows:
                head += f", {done}/{len(rows)} steps committed"
            return head, rows

    def describe_start(self) -> None:
        """Name the run in the static forms once it exists (its name, not its progress)."""
        with self._lock:
            self._static = self._static_forms()

    def _static_forms(self) -> tuple[str, str]:
        plan = self._given_plan
        named = self.name or self.fold.state.name
        name = named or (plan.name if plan is not None else "") or "run"
        if plan is None:
            head, rows = f"RunView {name!r}: a task, planned by the model when the run starts", []
        else:
            head = f"RunView {name!r}: {len(plan.steps)} step(s)"
            rows = [(s.id, s.skill) for s in plan.steps]
        text = safe_text("\n".join([head, *(f"  {sid} [{skill}]" for sid, skill in rows)]))
        items = "".join(f"<li>{html.escape(a)} [{html.escape(b)}]</li>" for a, b in rows)
        body = f"<ul>{items}</ul>" if rows else ""
        return text, f"<div class='sgr-runview-static'><b>{html.escape(head)}</b>{body}</div>"

    def __repr__(self) -> str:
        head, rows = self.summary()
        lines = [head, *(f"  {sid} [{skill}] {status}" for sid, skill, status in rows)]
        return safe_text("\n".join(lines))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict):
            data["text/plain"], data["text/html"] = self._static
        return bundle

    def _repr_html_(self) -> str:
        head, rows = self.summary()
        body = "".join(
            f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td></tr>"
            for a, b, c in rows
        )
        table = f"<table><tr><th>step</th><th>skill</th><th>status</th></tr>{body}</table>"
        shown = table if rows else ""
        return f"<div class='sgr-runview-static'><b>{html.escape(head)}</b>{shown}</div>"
