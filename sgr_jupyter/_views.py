"""Turn kernel answers (run summaries, trace views, replay reports) into display objects."""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import Any

from sgr_jupyter.config import SgrConfig
from sgr_jupyter.display import MermaidGraph, RunResultView, Table
from sgr_kernel.graph.mermaid import plan_to_mermaid
from sgr_kernel.models.plan import Plan
from sgr_kernel.models.status import StepStatus

__all__ = [
    "cluster_tables",
    "doctor_table",
    "replay_table",
    "result_view",
    "runs_table",
    "trace_views",
]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _str(value: Any) -> str:
    return "" if value is None else str(getattr(value, "value", value))


def _as_dict(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "model_dump"):
        return dict(obj.model_dump(mode="json"))
    if isinstance(obj, dict):
        return dict(obj)
    return dict(vars(obj))


def runs_table(runs: list[Any]) -> Table:
    rows = [
        (
            _get(r, "run_id"),
            _get(r, "name"),
            _str(_get(r, "status")),
            _get(r, "steps_committed", _get(r, "committed")),
            _get(r, "steps_total", _get(r, "steps")),
        )
        for r in runs
    ]
    return Table(f"{len(rows)} run(s)", ("run", "name", "status", "committed", "steps"), rows)


def trace_views(view: Any) -> tuple[Table, MermaidGraph | None]:
    """The steps table and the DAG of a ``RequestTrace``."""
    steps = list(_get(view, "steps", []) or [])
    rows = [
        (
            _get(s, "id"),
            _get(s, "skill"),
            _str(_get(s, "status")),
            _get(s, "attempts"),
            _get(s, "tokens"),
            _get(s, "output"),
            _get(s, "error"),
        )
        for s in steps
    ]
    title = f"run {_get(view, 'name') or ''!r}: {_str(_get(view, 'status'))}"
    notes = []
    usage = _get(view, "usage")
    if usage is not None:
        dump = usage.model_dump() if hasattr(usage, "model_dump") else dict(usage)
        notes.append("usage: " + ", ".join(f"{k}={v}" for k, v in dump.items()))
    table = Table(
        title, ("step", "skill", "status", "attempts", "tokens", "output", "error"), rows, notes
    )
    plan = _get(view, "plan")
    graph = None
    if plan is not None:
        if not isinstance(plan, Plan):
            plan = Plan.model_validate(plan)
        states = {str(_get(s, "id")): StepStatus(_str(_get(s, "status"))) for s in steps}
        graph = MermaidGraph(plan_to_mermaid(plan, states))
    return table, graph


def replay_table(report: Any) -> Table:
    dump = _as_dict(report)
    rows = [(k, v) for k, v in dump.items() if k not in ("divergences",)]
    divergences = dump.get("divergences") or []
    notes = [f"divergence: {d}" for d in divergences] or ["no divergence"]
    return Table("strict replay", ("field", "value"), rows, notes)


def result_view(ctl: Any) -> RunResultView:
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
        status=_str(_get(result, "status")),
        steps=steps,
        outputs=dict(_get(result, "outputs") or {}),
        error=_get(result, "error") or _get(result, "reason"),
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


def cluster_tables(view: Any) -> tuple[Table, Table]:
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
