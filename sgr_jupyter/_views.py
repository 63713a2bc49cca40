"""Turn kernel answers (run summaries, trace views, replay reports) into display objects."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sgr_jupyter.config import SgrConfig
from sgr_jupyter.display import MermaidGraph, RunResultView, Table
from sgr_kernel.graph.mermaid import plan_to_mermaid
from sgr_kernel.replay import ReplayReport
from sgr_kernel.runs import RunSummary
from sgr_kernel.trace.view import RequestTrace

if TYPE_CHECKING:
    from sgr_jupyter.session import RunController
    from sgr_kernel.dispatch.cluster import ClusterView

__all__ = [
    "cluster_tables",
    "doctor_table",
    "replay_table",
    "result_view",
    "runs_table",
    "trace_views",
]


def runs_table(runs: Sequence[RunSummary]) -> Table:
    """The runs list: one row per run (internal planning steps are not counted)."""
    rows = [(r.run_id, r.name, r.status.value, r.steps_committed, r.steps_total) for r in runs]
    return Table(f"{len(rows)} run(s)", ("run", "name", "status", "committed", "steps"), rows)


def trace_views(view: RequestTrace) -> tuple[Table, MermaidGraph | None]:
    """The steps table and the DAG of a ``RequestTrace``."""
    rows = [
        (s.id, s.skill, s.status.value, s.attempts, s.usage.tokens or "", s.output, s.error)
        for s in view.steps
    ]
    usage = view.usage.model_dump()
    notes = ["usage: " + ", ".join(f"{k}={v}" for k, v in usage.items())]
    table = Table(
        f"run {view.name!r}: {view.status.value}",
        ("step", "skill", "status", "attempts", "tokens", "output", "error"),
        rows,
        notes,
    )
    graph = None
    if view.plan is not None:
        states = {s.id: s.status for s in view.steps}
        graph = MermaidGraph(plan_to_mermaid(view.plan, states))
    return table, graph


def replay_table(report: ReplayReport) -> Table:
    """A strict replay's report, each divergence as a note (never a traceback)."""
    dump = report.model_dump(mode="json")
    rows = [(k, v) for k, v in dump.items() if k != "divergences"]
    notes = [f"divergence: {d.message}" for d in report.divergences] or ["no divergence"]
    return Table("strict replay", ("field", "value"), rows, notes)


def result_view(ctl: RunController) -> RunResultView:
    """A finished run as a deterministic table (no ids, no times)."""
    result = ctl.result
    view = ctl.view
    steps: list[tuple[str, str, str, int]] = []
    usage: dict[str, Any] = {}
    name = ""
    if view is not None:
        st = view.fold.state
        name = view.name or st.name
        if st.plan is not None:
            steps = [
                (s.id, s.skill, st.steps[s.id].status.value, st.steps[s.id].attempt)
                for s in st.plan.steps
            ]
        usage = {"tokens": st.usage.tokens, "llm_calls": st.usage.llm_calls}
        if st.usage.cost_usd:
            usage["cost_usd"] = round(st.usage.cost_usd, 6)
    return RunResultView(
        name=name,
        status=result.status.value if result is not None else "",
        steps=steps,
        outputs=dict(result.outputs) if result is not None else {},
        error=result.reason if result is not None else None,
        usage=usage,
    )


def doctor_table(cfg: SgrConfig, kernel_doctor: str) -> Table:
    """Jupyter-side checks, plus what ``sgr doctor`` said about the kernel's side."""
    from sgr_jupyter import _paths

    rows: list[tuple[str, str, str]] = []
    for mod in ("anywidget", "ipywidgets", "jupyterlab", "jupyter_server"):
        ok = importlib.util.find_spec(mod) is not None
        rows.append(
            (mod, "ok" if ok else "missing", "" if ok else "pip install 'sgr-jupyter[jupyter]'")
        )
    ext = _paths.installed_labextension()
    built = _paths.labextension_dir().is_dir()
    if ext is not None:
        ext_row = ("labextension", f"ok ({ext})", "")
    elif built:
        ext_row = ("labextension", "built, not installed", "pip install -e . installs it")
    else:
        ext_row = ("labextension", "not built", "pip install -e . (builds it) or make venv")
    rows.append(ext_row)
    bundle = _paths.mermaid_bundle()
    rows.append(
        (
            "mermaid fallback bundle",
            "ok" if bundle.is_file() else "absent",
            "" if bundle.is_file() else "outside JupyterLab the DAG shows as Mermaid text",
        )
    )
    home = cfg.home
    writable = os.access(home if home.exists() else home.parent, os.W_OK)
    rows.append(("SGR_HOME", str(home), "" if writable else "not writable: set SGR_HOME"))
    rows.append(("chromium (browser tests)", shutil.which("chromium") or "absent", ""))
    notes = [line for line in kernel_doctor.splitlines() if line.strip()][:40]
    return Table("sgr doctor (jupyter)", ("check", "result", "fix"), rows, notes)


def cluster_tables(view: ClusterView) -> tuple[Table, Table]:
    """Workers and sgr jobs of a ``sgr_kernel.dispatch.cluster.ClusterView``."""

    def gib(n: int) -> str:
        return f"{n / 2**30:.1f} GiB" if n else "-"

    workers = Table(
        f"Dask scheduler {view.scheduler}: {len(view.workers)} worker(s)",
        ("worker", "address", "threads", "memory", "resources", "running"),
        [
            (
                w.name,
                w.address,
                w.nthreads,
                f"{gib(w.memory_used)} / {gib(w.memory_limit)}",
                ", ".join(f"{k}={v:g}" for k, v in sorted(w.resources.items())) or "-",
                len(w.jobs),
            )
            for w in view.workers
        ],
    )
    jobs = Table(
        f"sgr jobs held: {len(view.jobs)}",
        ("run", "step", "state", "worker", "key"),
        [(j.run_id, j.step, j.state, j.worker or "-", j.key) for j in view.jobs],
    )
    return workers, jobs
