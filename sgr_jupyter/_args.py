"""Pure parsing of ``%%sgr`` / ``%sgr`` lines into typed commands.

Nothing here touches the kernel or the shell: a line goes in, a frozen command value comes
out, or IPython's own :class:`~IPython.core.error.UsageError` is raised (that exact class, so
IPython prints just the one-line message, no traceback).
"""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError

from sgr_jupyter._commands import (
    ApproveCmd,
    CancelCmd,
    CellCmd,
    ClusterCmd,
    Command,
    ConfigCmd,
    DenyCmd,
    DoctorCmd,
    ForkCmd,
    ModelsCmd,
    ReplayCmd,
    ResumeCmd,
    RunOptions,
    RunsCmd,
    SandboxCmd,
    ShowCmd,
    SkillsCmd,
)
from sgr_jupyter._context import ContextSpec, context_arg
from sgr_jupyter._interpolate import interpolate, interpolate_plan
from sgr_kernel.argtypes import count, finite
from sgr_kernel.errors import InvalidRunIdError, SgrUsageError
from sgr_kernel.safety import loads_json
from sgr_kernel.trace.base import validate_run_id

__all__ = [
    "ApproveCmd",
    "CancelCmd",
    "CellCmd",
    "ClusterCmd",
    "Command",
    "ConfigCmd",
    "ContextSpec",
    "DenyCmd",
    "DoctorCmd",
    "ForkCmd",
    "ModelsCmd",
    "ReplayCmd",
    "ResumeCmd",
    "RunOptions",
    "RunsCmd",
    "SandboxCmd",
    "ShowCmd",
    "SkillsCmd",
    "interpolate",
    "interpolate_plan",
    "parse_cell_line",
    "parse_line",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (try `{self.prog} --help`)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # --help lands here: show the help as the message, without a traceback.
        raise UsageError((message or "") + self.format_help())


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as e:
        raise UsageError(f"sgr: cannot parse the line ({e}); close the quote") from None


def _run_id(value: str) -> str:
    try:
        return validate_run_id(value)
    except InvalidRunIdError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a run id (`%sgr runs` lists them)"
        ) from None


def _ident(value: str) -> str:
    if not _IDENT.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Python identifier")
    return value


_nonneg_int = count(0, 10**12)
_pos_float = finite(0, 1e6, open_low=True)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true", help="block until the run ends")
    p.add_argument(
        "--out", type=_ident, help="bind the run's answer (a RunAnswer) to this variable"
    )
    p.add_argument(
        "--format",
        choices=["markdown", "text", "json"],
        default="markdown",
        help="how the final answer is shown and bound (default markdown)",
    )


def _cell_parser() -> _Parser:
    p = _Parser(prog="%%sgr", add_help=True, allow_abbrev=False)
    p.add_argument("--plan", action="store_true", help="the cell is a YAML/JSON plan")
    p.add_argument("--name", help="a name for the run")
    p.add_argument("--provider", help="LLM provider: local, openai_compat, scripted:PATH")
    p.add_argument("--model", help="model name for the provider")
    p.add_argument("--approval", choices=["ask", "auto"], help="approval mode")
    p.add_argument("--durability", choices=["sync", "batch", "none"], help="trace durability")
    p.add_argument("--budget-tokens", type=_nonneg_int, dest="max_tokens")
    p.add_argument("--budget-usd", type=_pos_float, dest="max_cost_usd")
    p.add_argument("--budget-wall", type=_pos_float, dest="max_wall_s", help="seconds")
    p.add_argument("--budget-steps", type=_nonneg_int, dest="max_steps")
    p.add_argument("--budget-llm-calls", type=_nonneg_int, dest="max_llm_calls")
    p.add_argument(
        "--context",
        type=context_arg,
        help="give the task earlier cells: N (the last N) or In[5] (that cell; comma-separated)",
    )
    _add_run_options(p)
    return p


def parse_cell_line(line: str, body: str) -> CellCmd:
    """Parse the ``%%sgr`` line; ``body`` is the cell text (a task or a plan)."""
    ns = _cell_parser().parse_args(_split(line))
    if not body.strip():
        raise UsageError(
            "%%sgr: the cell is empty; write a task below the %%sgr line (or a plan with --plan)"
        )
    budget = {
        k: getattr(ns, k)
        for k in ("max_tokens", "max_cost_usd", "max_wall_s", "max_steps", "max_llm_calls")
        if getattr(ns, k) is not None
    }
    if ns.context is not None and ns.plan:
        raise UsageError(
            "%%sgr: --context gives earlier cells to a task; a --plan cell has no task to give "
            "them to (refer to kernel variables with {name} instead)"
        )
    return CellCmd(
        body=body,
        plan=ns.plan,
        name=ns.name,
        provider=ns.provider,
        model=ns.model,
        approval=ns.approval,
        durability=ns.durability,
        budget=budget,
        opts=_opts(ns),
        context=ns.context,
    )


def _opts(ns: argparse.Namespace) -> RunOptions:
    return RunOptions(wait=ns.wait, out=ns.out, format=ns.format)


def _kv_input(value: str) -> tuple[str, str, Any]:
    key, sep, raw = value.partition("=")
    step, dot, name = key.partition(".")
    if not sep or not dot or not step or not name:
        raise argparse.ArgumentTypeError(f"{value[:60]!r}: write STEP.INPUT=VALUE")
    try:
        parsed: Any = loads_json(raw, what=f"the value of {key[:60]}", max_bytes=1024 * 1024)
    except SgrUsageError as e:
        if raw.lstrip()[:1] in ("[", "{", '"'):  # meant as JSON, and it is not usable
            raise argparse.ArgumentTypeError(str(e)) from None
        parsed = raw  # a bare word is a string
    return step, name, parsed


def _line_parser() -> _Parser:
    p = _Parser(prog="%sgr", add_help=True, allow_abbrev=False)
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser, metavar="SUBCOMMAND")
    sub.required = True
    runs = sub.add_parser("runs", help="list runs")
    runs.add_argument("--limit", type=_nonneg_int, default=20)
    sub.add_parser("show", help="show a run's trace").add_argument("run_id", type=_run_id)
    resume = sub.add_parser("resume", help="continue a run after a crash or restart")
    resume.add_argument("run_id", type=_run_id)
    _add_run_options(resume)
    sub.add_parser("replay", help="strict replay, zero LLM calls").add_argument(
        "run_id", type=_run_id
    )
    fork = sub.add_parser("fork", help="a new run sharing a prefix of an old one")
    fork.add_argument("run_id", type=_run_id)
    fork.add_argument("--from", dest="from_step", required=True, help="first step to redo")
    fork.add_argument("--input", action="append", type=_kv_input, default=[], metavar="S.K=V")
    _add_run_options(fork)
    approve = sub.add_parser("approve", help="approve a waiting step")
    approve.add_argument("run_id", type=_run_id)
    approve.add_argument("step_id")
    approve.add_argument("--by", default="user")
    deny = sub.add_parser("deny", help="deny a waiting step")
    deny.add_argument("run_id", type=_run_id)
    deny.add_argument("step_id")
    deny.add_argument("--reason", default="")
    sub.add_parser("cancel", help="cancel a live run").add_argument("run_id", type=_run_id)
    sub.add_parser("config", help="show the effective configuration")
    sandbox = sub.add_parser("sandbox", help="sandbox image status/build/prune")
    sandbox.add_argument(
        "action", nargs="?", default="status", choices=["status", "build", "prune"]
    )
    sub.add_parser("doctor", help="check the environment")
    models = sub.add_parser("models", help="the configured model and the GGUF files found")
    models.add_argument("--check", action="store_true", help="also check each file loads")
    sub.add_parser("skills", help="the skills plans can use")
    cluster = sub.add_parser("cluster", help="Dask cluster: show, jobs, local N, connect, cancel")
    cluster.add_argument(
        "action", nargs="?", default="show", choices=["show", "jobs", "local", "connect", "cancel"]
    )
    cluster.add_argument("target", nargs="?", help="local: N workers; connect: ADDR; cancel: KEY")
    return p


def parse_line(line: str) -> Command:
    """Parse a ``%sgr`` line into one of the :data:`Command` values."""
    args = _split(line)
    if not args:
        raise UsageError(
            "%sgr: name a subcommand: runs, show, resume, replay, fork, approve, deny, "
            "cancel, config, sandbox, cluster, doctor, models, skills (or use %%sgr as a cell "
            "magic)"
        )
    ns = _line_parser().parse_args(args)
    match ns.cmd:
        case "runs":
            return RunsCmd(limit=ns.limit)
        case "show":
            return ShowCmd(ns.run_id)
        case "resume":
            return ResumeCmd(ns.run_id, _opts(ns))
        case "replay":
            return ReplayCmd(ns.run_id)
        case "fork":
            inputs: dict[str, dict[str, Any]] = {}
            for step, key, value in ns.input:
                inputs.setdefault(step, {})[key] = value
            opts = _opts(ns)
            return ForkCmd(ns.run_id, ns.from_step, inputs, opts)
        case "approve":
            return ApproveCmd(ns.run_id, ns.step_id, by=ns.by)
        case "deny":
            return DenyCmd(ns.run_id, ns.step_id, reason=ns.reason)
        case "cancel":
            return CancelCmd(ns.run_id)
        case "config":
            return ConfigCmd()
        case "sandbox":
            return SandboxCmd(ns.action)
        case "models":
            return ModelsCmd(check=ns.check)
        case "skills":
            return SkillsCmd()
        case "cluster":
            return _cluster_cmd(ns.action, ns.target)
        case _:
            return DoctorCmd()


def _cluster_cmd(action: Any, target: str | None) -> ClusterCmd:
    if action == "local":
        if target is not None and not (target.isdigit() and int(target) > 0):
            raise UsageError(f"%sgr cluster local: {target!r} is not a worker count; e.g. 2")
        return ClusterCmd("local", workers=int(target or 2))
    if action in ("connect", "cancel") and not target:
        what = "tcp://HOST:PORT" if action == "connect" else "a job key or run id"
        raise UsageError(f"%sgr cluster {action}: name {what}")
    return ClusterCmd(action, target=target)
