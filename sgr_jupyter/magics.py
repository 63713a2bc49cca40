"""``%%sgr`` and ``%sgr``: parse, call, display.

The line is parsed by :mod:`sgr_jupyter._args` into a typed command; this module only
dispatches it to the session and displays the answer. Every user mistake, including the
kernel's own misuse errors (a malformed plan, an unknown run, a step that is not waiting),
surfaces as IPython's ``UsageError``: one line naming the fix, no traceback.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, cast

import traitlets as t
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import Markdown, display

from sgr_jupyter import _args as a
from sgr_jupyter._answer import RunAnswer, answer_display, answer_of, fill_answer_slot
from sgr_jupyter._cluster import cluster_command
from sgr_jupyter._context import notebook_context, with_context
from sgr_jupyter._views import doctor_table, replay_table, result_view, runs_table, trace_views
from sgr_jupyter.config import ApprovalMode, DurabilityName, SgrConfig, budget_policy
from sgr_jupyter.session import RunController, Session
from sgr_jupyter.widgets import RunView
from sgr_kernel.boundary import DEBUG_HINT, classify, debug_env
from sgr_kernel.engine.kernel import Kernel, RunHandle
from sgr_kernel.errors import SgrUsageError
from sgr_kernel.graph.dag import effective_grants
from sgr_kernel.models.plan import Plan, load_plan_data, plan_from_data
from sgr_kernel.runs import Steered
from sgr_kernel.safety import safe_text

__all__ = ["SgrMagics"]


@contextlib.contextmanager
def _as_usage() -> Iterator[None]:
    """Turn the kernel's misuse errors into IPython's UsageError (the exact class)."""
    try:
        yield
    except SgrUsageError as e:
        raise UsageError(safe_text(str(e))) from None


@contextlib.contextmanager
def _boundary() -> Iterator[None]:
    """The magics' one error boundary: every error is one UsageError line (IPython prints no
    traceback for that exact class) unless ``SGR_DEBUG=1`` asks for the traceback."""
    try:
        yield
    except UsageError:
        raise
    except KeyboardInterrupt:
        raise
    except Exception as e:
        if debug_env():
            raise
        failure = classify(e)
        hint = f" ({failure.hint})" if failure.hint else ""
        if failure.hint == DEBUG_HINT:
            hint = " (set SGR_DEBUG=1 and rerun for the traceback, and report it)"
        raise UsageError(f"sgr: {failure.message}{hint}") from None


@magics_class
class SgrMagics(Magics):
    """The sgr magics. Traits are set with ``%config SgrMagics.NAME = VALUE``."""

    home = t.Unicode("", help="Trace store root; empty means $SGR_HOME or ~/.sgr.").tag(config=True)
    provider = t.Unicode(None, allow_none=True, help="local | openai_compat | scripted:PATH").tag(
        config=True
    )
    model = t.Unicode(None, allow_none=True, help="Model name for the provider.").tag(config=True)
    base_url = t.Unicode(None, allow_none=True, help="OpenAI-compatible base URL.").tag(config=True)
    durability = t.Enum(["sync", "batch", "none"], "sync", help="Trace durability.").tag(
        config=True
    )
    approval_mode = t.Enum(["ask", "auto"], "ask", help="ask: wait for a human.").tag(config=True)
    budget_tokens = t.Int(None, allow_none=True, help="Default token budget.").tag(config=True)
    budget_usd = t.Float(None, allow_none=True, help="Default USD budget.").tag(config=True)
    budget_wall_s = t.Float(None, allow_none=True, help="Default wall-time budget.").tag(
        config=True
    )
    budget_steps = t.Int(None, allow_none=True, help="Default step budget.").tag(config=True)
    throttle_ms = t.Int(100, help="Least interval between widget updates.").tag(config=True)
    widget = t.Bool(True, help="Show the live RunView widget.").tag(config=True)
    dask_address = t.Unicode(
        None, allow_none=True, help="Dask scheduler for remote steps (%sgr cluster connect)."
    ).tag(config=True)

    def __init__(self, shell: Any = None, session: Session | None = None, **kw: Any) -> None:
        if shell is not None:
            kw.setdefault("parent", shell)  # ipython_config.py values apply
        super().__init__(shell=shell, **kw)
        self.session = session or Session()
        if shell is not None and self not in shell.configurables:
            shell.configurables.append(self)  # so `%config SgrMagics.x = y` reaches us

    # ------------------------------------------------------------ config

    def frozen_config(self) -> SgrConfig:
        """The traits, read once, as the frozen value the session works with."""
        budget = {
            "max_tokens": self.budget_tokens,
            "max_cost_usd": self.budget_usd,
            "max_wall_s": self.budget_wall_s,
            "max_steps": self.budget_steps,
        }
        kwargs: dict[str, Any] = {}
        if self.home:
            kwargs["home"] = self.home
        return SgrConfig(
            provider=self.provider,
            model=self.model,
            base_url=self.base_url,
            durability=cast(DurabilityName, self.durability),  # the Enum trait checked it
            approval_mode=cast(ApprovalMode, self.approval_mode),
            budget=tuple((k, v) for k, v in budget.items() if v is not None),
            throttle_s=self.throttle_ms / 1000,
            dask_address=self.dask_address or None,
            **kwargs,
        )

    # ------------------------------------------------------------ entry point

    @line_cell_magic
    def sgr(self, line: str, cell: str | None = None) -> Any:
        """Run an agent task or plan (``%%sgr``), or manage runs (``%sgr SUBCOMMAND``)."""
        with _boundary():
            if cell is not None:
                return self._run_cell(a.parse_cell_line(line, cell))
            return self._dispatch(a.parse_line(line))

    def _dispatch(self, cmd: a.Command) -> Any:
        cfg = self.frozen_config()
        match cmd:
            case a.RunsCmd(limit=limit):
                api = self.session.api(self.session.kernel(cfg))
                runs = self.session.call_sync(api.summaries)
                return runs_table(runs[-limit:] if limit else runs)
            case a.ShowCmd(run_id=run_id):
                api = self.session.api(self.session.kernel_for(run_id, cfg))
                with _as_usage():
                    view = self.session.call_sync(lambda: api.view(run_id))
                table, graph = trace_views(view)
                if graph is not None:
                    display(graph)
                return table
            case a.ResumeCmd(run_id=run_id, opts=opts):
                kernel = self.session.kernel_for(run_id, cfg)
                live = self._reattach(run_id, cfg, opts)
                if live is not None:
                    return result_view(live) if opts.wait else None
                plan, name = self._known_plan(kernel, run_id)
                return self._launch(cfg, kernel, lambda k: k.resume(run_id), opts, plan, name)
            case a.ForkCmd(run_id=run_id, from_step=step, inputs=inputs, opts=opts):
                kernel = self.session.kernel_for(run_id, cfg)
                others = sorted(set(inputs) - {step})
                if others:
                    raise UsageError(
                        f"%sgr fork: --input may change only the step forked from ({step!r}), "
                        f"not {', '.join(others)}; write --input {step}.NAME=VALUE"
                    )
                fork_inputs = dict(inputs.get(step, {}))
                plan, _ = self._known_plan(kernel, run_id)
                return self._launch(
                    cfg,
                    kernel,
                    lambda k: k.fork(run_id, from_step=step, inputs=fork_inputs or None),
                    opts,
                    plan,
                    "",
                )
            case a.ReplayCmd(run_id=run_id):
                api = self.session.api(self.session.kernel_for(run_id, cfg))
                with _as_usage():
                    report = self.session.call(lambda: api.replay(run_id))
                return replay_table(report)
            case a.ApproveCmd(run_id=run_id, step_id=step, by=by):
                api = self.session.api(self.session.kernel_for(run_id, cfg))
                with _as_usage():
                    done = self.session.call(lambda: api.decide(run_id, step, approved=True, by=by))
                print(f"approved {step} in {run_id}" + _delivery(done))
                return None
            case a.DenyCmd(run_id=run_id, step_id=step, reason=reason):
                api = self.session.api(self.session.kernel_for(run_id, cfg))
                with _as_usage():
                    done = self.session.call(
                        lambda: api.decide(
                            run_id, step, approved=False, by="user", reason=reason or None
                        )
                    )
                print(f"denied {step} in {run_id}" + _delivery(done))
                return None
            case a.CancelCmd(run_id=run_id):
                api = self.session.api(self.session.kernel_for(run_id, cfg))
                with _as_usage():
                    done = self.session.call(lambda: api.cancel(run_id))
                print(f"cancelled {run_id}" + _delivery(done))
                return None
            case a.ConfigCmd():
                from sgr_jupyter.display import Table

                rows = sorted(cfg.to_json().items())
                return Table(
                    "sgr configuration (%config SgrMagics.NAME = VALUE)", ("key", "value"), rows
                )
            case a.SandboxCmd(action=action):
                return self._cli("sandbox", action)
            case a.ModelsCmd(check=check):
                from sgr_jupyter._catalog import models_table

                return models_table(cfg, check=check)
            case a.SkillsCmd():
                from sgr_jupyter._catalog import skills_table

                return skills_table()
            case a.ClusterCmd():
                with _as_usage():
                    return self._cluster(cmd)
            case _:
                return doctor_table(cfg, self._cli_text("doctor"))

    # ------------------------------------------------------------ runs

    def _known_plan(self, kernel: Kernel, run_id: str) -> tuple[Plan | None, str]:
        """A stored run's plan and name, so its new view shows the DAG from the first paint."""
        api = self.session.api(kernel)
        with _as_usage():
            info = self.session.call_sync(lambda: api.view(run_id))
        return info.plan, info.name

    def _run_cell(self, cmd: a.CellCmd) -> Any:
        cfg = self.frozen_config().with_overrides(
            provider=cmd.provider,
            model=cmd.model,
            durability=cmd.durability,
            approval_mode=cmd.approval,
            budget=dict(cmd.budget),
        )
        ns = self.shell.user_ns if self.shell is not None else {}
        plan = None
        if cmd.plan:
            # Values are filled into the parsed plan, never pasted into its text.
            with _as_usage():
                data = load_plan_data(cmd.body, source="%%sgr cell")
                plan = plan_from_data(a.interpolate_plan(data, ns), source="%%sgr cell")
            body = cmd.body
        else:
            body = a.interpolate(cmd.body, ns)
            if cmd.context is not None:
                context = notebook_context(
                    cmd.context,
                    ns.get("In") or [""],
                    ns.get("Out") or {},
                    getattr(self.shell, "execution_count", None),
                )
                body = with_context(body.strip(), context)
        budget = budget_policy(cfg.budget_dict) if cfg.budget else None
        task = None if cmd.plan else body.strip()
        name = cmd.name or (plan.name if plan is not None else None)
        kernel = self.session.kernel(cfg)

        def starter(k: Kernel) -> Awaitable[RunHandle]:
            return k.start(plan=plan, task=task, name=name, budget=budget)

        return self._launch(cfg, kernel, starter, cmd.opts, plan, name or "")

    def _launch(  # noqa: PLR0917 - a private helper with one caller per command
        self,
        cfg: SgrConfig,
        kernel: Kernel,
        starter: Callable[[Kernel], Awaitable[RunHandle]],
        opts: a.RunOptions,
        plan: Plan | None,
        name: str,
    ) -> Any:
        view = RunView(
            name=name,
            plan=plan,
            budget=cfg.budget_dict,
            throttle_s=cfg.throttle_s,
            window=cfg.timeline_window,
            capabilities=_grants_of(kernel),
            answer_format=opts.format,
        )
        ns = self.shell.user_ns if self.shell is not None else {}

        def on_done(ctl: RunController) -> None:
            if opts.out and ctl.error is None:
                ns[opts.out] = RunAnswer(ctl.result, answer_of(ctl, opts.format), opts.format)

        with _as_usage():
            ctl = self.session.launch(kernel, starter, view, on_done)
        view.describe_start()
        if self.widget:  # only once the run exists: a refused plan leaves no dead widget
            display(view)
        view._on_approve = ctl.approve
        view._on_deny = lambda step: ctl.deny(step, reason="denied in the widget")
        view._artifact_reader = _artifact_reader(kernel, ctl.run_id)
        ns["_sgr"] = ctl
        if not opts.wait:
            if self.widget:  # the answer goes below the widget when the run completes
                slot = display(Markdown(""), display_id=True)
                ctl.add_done_callback(lambda c: fill_answer_slot(slot, c, opts.format))
            return None
        try:
            ctl.wait()
        except KeyboardInterrupt:
            print(f"still running in the background: `%sgr cancel {ctl.run_id}` stops it")
            raise
        except SgrUsageError as e:
            raise UsageError(str(e)) from None
        shown = answer_display(answer_of(ctl, opts.format), opts.format)
        if shown is not None:
            display(shown)
        return result_view(ctl)

    def _reattach(self, run_id: str, cfg: SgrConfig, opts: a.RunOptions) -> RunController | None:
        """A run still live in this kernel: a new view on it (from its state, then live)."""
        view = RunView(
            throttle_s=cfg.throttle_s, window=cfg.timeline_window, answer_format=opts.format
        )
        ctl = self.session.attach(run_id, view)
        if ctl is None:
            return None
        view._on_approve = ctl.approve
        view._on_deny = lambda step: ctl.deny(step, reason="denied in the widget")
        view._artifact_reader = _artifact_reader(self.session.kernel_for(run_id, cfg), run_id)
        if self.widget:
            display(view)
        if self.shell is not None:
            self.shell.user_ns["_sgr"] = ctl
        if opts.wait:
            with contextlib.suppress(Exception):  # its own cell reports how it ended
                ctl.wait()
        return ctl

    # ------------------------------------------------------------ cluster

    def _cluster(self, cmd: a.ClusterCmd) -> Any:
        out = cluster_command(cmd, self.dask_address)
        if out.local is not None:
            self._local_cluster = out.local  # lives as long as the kernel
        self.dask_address = out.address
        return out.result

    # ------------------------------------------------------------ CLI passthrough

    def _cli_text(self, *args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "sgr_kernel.cli", *args],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        return (proc.stdout + proc.stderr).strip()

    def _cli(self, *args: str) -> None:
        print(self._cli_text(*args))


def _grants_of(kernel: Kernel) -> Callable[[Plan], dict[str, list[str]]]:
    """What each step of a plan may use, for the widget."""
    skills, grants = kernel.skills, kernel.config.run.grants
    return lambda plan: effective_grants(plan, skills, grants)


def _artifact_reader(kernel: Kernel, run_id: str) -> Callable[[str], bytes]:
    return lambda sha: kernel.store.get_artifact(run_id, sha)


def _delivery(done: Steered) -> str:
    """How a steering request reached its run, in words (nothing for the usual case)."""
    if done.delivered == "posted":
        return (
            " (applied by the process running it)"
            if done.applied
            else " (posted to the process running it; not applied yet)"
        )
    return ""
