"""The ``sgr`` command: human output by default, ``--json`` for scripts.

Exit codes: 0 the run COMPLETED (or the command succeeded); 1 the run FAILED, replay
diverged, or an unexpected error (one line, ``--debug`` for the traceback); 2 a usage or
configuration error; 3 the run is PAUSED waiting for approval; 4 ABORTED (budget or policy);
5 CANCELLED; 6 the trace is damaged or locked, or the store cannot be read or written;
128+N a signal N stopped the run (130 SIGINT, 143 SIGTERM): it is INTERRUPTED and
``sgr resume`` continues it.
Every error goes through one boundary (``_cli_boundary.report``); with ``--json`` it is also
a JSON object ``{"error", "message", "exit_code", "type", "hint"?}`` on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sgr_kernel import _cli_boundary as cb
from sgr_kernel._cli_stream import stream_tokens
from sgr_kernel.engine.base import RunConfig
from sgr_kernel.engine.kernel import Kernel, KernelConfig, RunHandle
from sgr_kernel.errors import SgrUsageError
from sgr_kernel.models.policies import BudgetPolicy
from sgr_kernel.models.status import RunStatus
from sgr_kernel.runs import Runs
from sgr_kernel.safety import clip, loads_json
from sgr_kernel.trace.base import Durability, default_root

__all__ = ["EXIT_CODES", "main"]

EXIT_CODES = {
    RunStatus.COMPLETED: 0,
    RunStatus.FAILED: 1,
    RunStatus.PAUSED: 3,
    RunStatus.ABORTED: 4,
    RunStatus.CANCELLED: 5,
}
EXIT_USAGE, EXIT_TRACE = cb.EXIT_USAGE, cb.EXIT_STORE


def _kernel(args: argparse.Namespace) -> Kernel:
    budget = BudgetPolicy(
        max_steps=getattr(args, "max_steps", None),
        max_tokens=getattr(args, "max_tokens", None),
        max_cost_usd=getattr(args, "max_cost_usd", None),
        max_wall_s=getattr(args, "max_wall_s", None),
    )
    run = RunConfig(
        durability=Durability(getattr(args, "durability", "sync")),
        approval_mode=getattr(args, "approval", "ask"),
        max_concurrency=getattr(args, "max_concurrency", 8),
        budget=budget,
    )
    home = default_root(getattr(args, "home", None))
    if home.exists() and not home.is_dir():
        raise SgrUsageError(f"the store root {home} is not a directory; give --home a directory")
    return Kernel(KernelConfig(home=home, run=run, pause_when_waiting=True))


def _report(runs: Runs, run_id: str) -> dict[str, Any]:
    data = runs.report(run_id).model_dump(mode="json")
    del data["summary"]  # the `sgr run --json` shape: run_id, status, reason, steps, ...
    return data


def _human_report(data: dict[str, Any]) -> str:
    lines = [
        f"run {data['run_id']}: {data['status']}"
        + (f" — {data['reason']}" if data["reason"] else "")
    ]
    for s in data["steps"]:
        err = f"  {s['error']}" if s["error"] else ""
        lines.append(f"  {s['status']:<17} {s['id']} (attempts: {s['attempts']}){err}")
    if data["status"] == RunStatus.PAUSED.value:
        lines.append(f"  approve with: sgr approve {data['run_id']} STEP   (or sgr deny …)")
    if data["status"] == RunStatus.INTERRUPTED.value:
        lines.append(f"  continue with: sgr resume {data['run_id']}")
    return "\n".join(lines)


async def _finish(args: argparse.Namespace, kernel: Kernel, handle: RunHandle) -> int:
    stream_tokens(handle, json_mode=bool(args.json))  # live, on a TTY only
    runs = Runs(kernel)
    stop_live = runs.publish_live(handle)  # for the side panel, in another process
    try:
        with _interruptible(kernel, handle.run_id) as caught:
            result = await handle.wait()
    finally:
        stop_live()
    data = _report(runs, result.run_id)
    if handle.recovery is not None and handle.recovery.torn_tail:
        data["recovery"] = handle.recovery.model_dump()
    cb.emit(args.json, data, lambda: _human_report(data))
    if caught:
        return 128 + caught[0]
    return EXIT_CODES.get(result.status, 1)


@contextlib.contextmanager
def _interruptible(kernel: Kernel, run_id: str) -> Iterator[list[int]]:
    """Stop the run INTERRUPTED (resumable) on SIGINT/SIGTERM while it is driven here.

    The command then exits 128 + the signal's number; a second signal exits at once.
    """
    loop = asyncio.get_running_loop()
    caught: list[int] = []

    def on_signal(signum: int) -> None:
        if caught:
            os._exit(128 + signum)
        caught.append(signum)
        kernel.interrupt(run_id, reason=f"interrupted by {signal.Signals(signum).name}")

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signal support here
    try:
        yield caught
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


# ---------------------------------------------------------------- commands


async def cmd_run(args: argparse.Namespace) -> int:
    """``sgr run PLAN_FILE|"task"``."""
    from sgr_kernel.models.plan import read_plan_file

    kernel = _kernel(args)
    target = cb.plan_or_task(args.target)
    if isinstance(target, Path):
        handle = await kernel.start(plan=read_plan_file(target), name=args.name)
    else:
        handle = await kernel.start(task=target, name=args.name)
    return await _finish(args, kernel, handle)


async def cmd_resume(args: argparse.Namespace) -> int:
    """``sgr resume RUN``."""
    kernel = _kernel(args)
    return await _finish(args, kernel, await kernel.resume(args.run))


async def cmd_fork(args: argparse.Namespace) -> int:
    """``sgr fork RUN --from STEP``."""
    kernel = _kernel(args)
    inputs = (
        loads_json(args.inputs, what="--inputs", max_bytes=1024 * 1024) if args.inputs else None
    )
    if inputs is not None and not isinstance(inputs, dict):
        raise SgrUsageError('--inputs must be a JSON object, e.g. \'{"question": "…"}\'')
    handle = await kernel.fork(args.run, from_step=args.from_step, inputs=inputs)
    return await _finish(args, kernel, handle)


async def cmd_decide(args: argparse.Namespace) -> int:
    """``sgr approve|deny RUN STEP``: decide, then (for a stopped run) resume it."""
    kernel = _kernel(args)
    steered = await Runs(kernel).decide(
        args.run,
        args.step,
        approved=args.command == "approve",
        by=args.by,
        reason=getattr(args, "reason", None),
        wait_s=args.wait_s,
    )
    if steered.delivered == "posted":  # the run is live in another process, which applies it
        ok = steered.applied
        data = {"run_id": args.run, "step": args.step, "delivered": "posted", "applied": ok}
        cb.emit(
            args.json,
            data,
            lambda: (
                "applied by the process running it"
                if ok
                else "posted to the live run; it has not applied it yet"
            ),
        )
        return 0 if ok else EXIT_CODES[RunStatus.PAUSED]
    if args.no_resume:
        cb.emit(args.json, {"run_id": args.run, "step": args.step}, lambda: "decision recorded")
        return 0
    return await _finish(args, kernel, await kernel.resume(args.run))


async def cmd_cancel(args: argparse.Namespace) -> int:
    """``sgr cancel RUN``: stopped, or live in another process (posted to it)."""
    runs = Runs(_kernel(args))
    await runs.cancel(args.run)
    data = _report(runs, args.run)
    cb.emit(args.json, data, lambda: _human_report(data))
    return 0


async def cmd_replay(args: argparse.Namespace) -> int:
    """``sgr replay RUN``: strict replay; exits 0 only with no divergence."""
    report = await Runs(_kernel(args)).replay(args.run)
    data = report.model_dump(mode="json")

    def human() -> str:
        head = f"replay {report.run_id}: {len(report.divergences)} divergence(s), "
        head += f"{report.live_calls} live call(s), {report.steps_replayed} step(s) replayed"
        return "\n".join([head, *(f"  {d.message}" for d in report.divergences)])

    cb.emit(args.json, data, human)
    return 0 if report.ok else 1


def cmd_show(args: argparse.Namespace) -> int:
    """``sgr show RUN``: the RequestTrace view, with each step's effective capabilities."""
    from sgr_kernel.graph.dag import effective_grants
    from sgr_kernel.skills.base import DEFAULT_GRANTS

    kernel = _kernel(args)
    runs = Runs(kernel)
    view = runs.view(args.run)
    data = view.model_dump(mode="json")
    grants: dict[str, list[str]] = {}
    if view.plan is not None:
        # Read leniently: `show` must work even on a run saved with settings now refused.
        saved = kernel.load(args.run).config.get("grants", DEFAULT_GRANTS)
        run_grants = [g for g in saved if isinstance(g, str)] if isinstance(saved, list) else saved
        grants = effective_grants(view.plan, kernel.skills, run_grants)
        for step in data["steps"]:
            step["effective_capabilities"] = grants.get(step["id"], [])

    def human() -> str:
        text = _human_report(_report(runs, args.run))
        if grants:
            caps = "; ".join(f"{k}: {', '.join(v) or 'none'}" for k, v in grants.items())
            text += f"\n  effective capabilities: {caps}"
        return text

    cb.emit(args.json, data, human)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """``sgr runs``: one summary row per run, oldest first."""
    runs = Runs(_kernel(args))
    rows = [r.model_dump(mode="json") for r in runs.summaries()]
    for row in rows:
        row["steps"] = row["steps_total"]  # the older name of the same count

    def human() -> str:
        if not rows:
            return f"no runs under {runs.root}"
        return "\n".join(
            f"{r['run_id']}  {r['status']:<10} {r['steps_committed']}/{r['steps_total']} "
            f"{r['name']}"
            for r in rows
        )

    cb.emit(args.json, rows, human)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``sgr export RUN [--out FILE]``: the view, every record and the recovery report."""
    body = Runs(_kernel(args)).export(args.run)
    text = json.dumps(body, indent=2, sort_keys=True)
    if args.out:
        out = Path(args.out)
        if not out.parent.is_dir() or out.is_dir():
            raise SgrUsageError(
                f"--out {clip(args.out, 200)}: name a file in an existing directory"
            )
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as e:
            raise SgrUsageError(
                f"--out {clip(args.out, 200)}: cannot write it ({e.strerror})"
            ) from None
        cb.out(f"wrote {args.out} ({len(body['records'])} records)")
    else:
        cb.out(text)
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = cb.Parser(prog="sgr", description="Run, inspect and replay agent runs.")
    p.add_argument("--home", help="store root (default: $SGR_HOME or ~/.sgr)")
    p.add_argument("--debug", action="store_true", help="print tracebacks of errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(name: str, help: str, fn: Callable[..., Any]) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.add_argument("--debug", action="store_true", help="print tracebacks of errors")
        sp.set_defaults(fn=fn)
        return sp

    run = cmd("run", "run a plan file (YAML/JSON) or plan and run a task", cmd_run)
    run.add_argument("target", help="a plan file, or the task text in quotes")
    run.add_argument("--name", type=cb.short_text)
    run.add_argument("--durability", choices=["sync", "batch", "none"], default="sync")
    run.add_argument("--approval", choices=["ask", "auto"], default="ask")
    run.add_argument("--max-concurrency", type=cb.count(1, 1024), default=8)
    run.add_argument("--max-steps", type=cb.count(0, 10**9))
    run.add_argument("--max-tokens", type=cb.count(0, 10**12))
    run.add_argument("--max-cost-usd", type=cb.finite(0, 10**6))
    run.add_argument("--max-wall-s", type=cb.finite(0, 30 * 86400, open_low=True))
    cmd("runs", "list runs", cmd_runs)
    cmd("show", "show a run", cmd_show).add_argument("run")
    cmd("replay", "strictly replay a run (zero live calls)", cmd_replay).add_argument("run")
    cmd("resume", "continue a stopped run", cmd_resume).add_argument("run")
    fork = cmd("fork", "start a new run from one step of an old one", cmd_fork)
    fork.add_argument("run")
    fork.add_argument("--from", dest="from_step", required=True, metavar="STEP")
    fork.add_argument("--inputs", help="JSON object merged over the step's inputs")
    for name in ("approve", "deny"):
        d = cmd(name, f"{name} a step waiting for approval, then resume", cmd_decide)
        d.add_argument("run")
        d.add_argument("step")
        d.add_argument("--by", default="cli", type=cb.short_text)
        d.add_argument("--no-resume", action="store_true", help="record the decision only")
        d.add_argument(
            "--wait-s",
            type=cb.finite(0, 3600),
            default=15.0,
            help="for a run live in another process: how long to wait for it to apply",
        )
        if name == "deny":
            d.add_argument("--reason", type=cb.short_text)
    cmd("cancel", "cancel a run", cmd_cancel).add_argument("run")
    exp = cmd("export", "export a run's view and records as JSON", cmd_export)
    exp.add_argument("run")
    exp.add_argument("--out", help="file to write (default: stdout)")
    from sgr_kernel import cli_admin, cli_cluster

    cli_admin.add_commands(cmd)
    cli_cluster.add_commands(cmd)
    from sgr_kernel.cli_plugins import add_plugin_commands  # `sgr.cli` entry points

    add_plugin_commands(cmd)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every error leaves through :func:`_cli_boundary.report`."""
    raw = list(sys.argv[1:] if argv is None else argv)
    as_json, debug = "--json" in raw, cb.debug_requested(raw)
    try:
        args = build_parser().parse_args(raw)
        out = args.fn(args)
        code = asyncio.run(out) if asyncio.iscoroutine(out) else out
    except SystemExit as e:  # --help, or a command that exits on purpose
        return e.code if isinstance(e.code, int) else 0
    except BaseException as e:
        if not isinstance(e, Exception | KeyboardInterrupt):
            raise
        return cb.report(e, as_json=as_json, debug=debug)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
