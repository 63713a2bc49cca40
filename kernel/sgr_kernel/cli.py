"""The ``sgr`` command (DESIGN §3.11): human output by default, ``--json`` for scripts.

Exit codes: 0 the run COMPLETED (or the command succeeded); 1 the run FAILED or replay
diverged; 2 a usage error; 3 the run is PAUSED waiting for approval; 4 ABORTED (budget or
policy); 5 CANCELLED; 6 the trace is damaged or locked by another writer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sgr_kernel.errors import SgrUsageError, TraceError
from sgr_kernel.models.status import RunStatus
from sgr_kernel.trace.state import PLAN_STEP

__all__ = ["EXIT_CODES", "main"]

EXIT_CODES = {
    RunStatus.COMPLETED: 0,
    RunStatus.FAILED: 1,
    RunStatus.PAUSED: 3,
    RunStatus.ABORTED: 4,
    RunStatus.CANCELLED: 5,
}
EXIT_USAGE, EXIT_TRACE = 2, 6


def _kernel(args: argparse.Namespace, **overrides: Any) -> Any:
    from sgr_kernel.engine.base import RunConfig
    from sgr_kernel.engine.kernel import Kernel, KernelConfig, default_home
    from sgr_kernel.models.policies import BudgetPolicy
    from sgr_kernel.trace.base import Durability

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
    home = Path(args.home) if getattr(args, "home", None) else default_home()
    return Kernel(KernelConfig(home=home, run=run, pause_when_waiting=True), **overrides)


def _print(args: argparse.Namespace, data: Any, human: Callable[[], str]) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        print(human())


def _summary(kernel: Any, run_id: str) -> dict[str, Any]:
    view = kernel.show(run_id)
    steps = [
        {"id": s.id, "status": s.status.value, "attempts": s.attempts, "error": s.error}
        for s in view.steps
    ]
    outputs = {s.id: s.output for s in view.steps if s.output is not None and s.id != PLAN_STEP}
    return {
        "run_id": run_id,
        "status": view.status.value,
        "reason": view.reason,
        "steps": steps,
        "outputs": outputs,
        "usage": view.usage.model_dump(),
    }


def _human_summary(data: dict[str, Any]) -> str:
    lines = [
        f"run {data['run_id']}: {data['status']}"
        + (f" — {data['reason']}" if data["reason"] else "")
    ]
    for s in data["steps"]:
        err = f"  {s['error']}" if s["error"] else ""
        lines.append(f"  {s['status']:<17} {s['id']} (attempts: {s['attempts']}){err}")
    if data["status"] == RunStatus.PAUSED.value:
        lines.append(f"  approve with: sgr approve {data['run_id']} STEP   (or sgr deny …)")
    return "\n".join(lines)


async def _finish(args: argparse.Namespace, kernel: Any, handle: Any) -> int:
    result = await handle.wait()
    data = _summary(kernel, result.run_id)
    if getattr(handle, "recovery", None) is not None and handle.recovery.torn_tail:
        data["recovery"] = handle.recovery.model_dump()
    _print(args, data, lambda: _human_summary(data))
    return EXIT_CODES.get(result.status, 1)


# ---------------------------------------------------------------- commands


async def cmd_run(args: argparse.Namespace) -> int:
    from sgr_kernel.models.plan import parse_plan

    kernel = _kernel(args)
    target = Path(args.target)
    if target.suffix in (".yaml", ".yml", ".json") or target.is_file():
        if not target.is_file():
            raise SgrUsageError(f"plan file {target} does not exist")
        plan = parse_plan(target.read_text(encoding="utf-8"), source=str(target))
        handle = await kernel.start(plan=plan, name=args.name)
    else:
        handle = await kernel.start(task=args.target, name=args.name)
    return await _finish(args, kernel, handle)


async def cmd_resume(args: argparse.Namespace) -> int:
    kernel = _kernel(args)
    return await _finish(args, kernel, await kernel.resume(args.run))


async def cmd_fork(args: argparse.Namespace) -> int:
    kernel = _kernel(args)
    inputs = json.loads(args.inputs) if args.inputs else None
    if inputs is not None and not isinstance(inputs, dict):
        raise SgrUsageError('--inputs must be a JSON object, e.g. \'{"question": "…"}\'')
    handle = await kernel.fork(args.run, from_step=args.from_step, inputs=inputs)
    return await _finish(args, kernel, handle)


async def cmd_decide(args: argparse.Namespace) -> int:
    from sgr_kernel.models.status import StepStatus

    kernel = _kernel(args)
    if args.command == "approve":
        delivery = kernel.approve(args.run, args.step, by=args.by)
    else:
        delivery = kernel.deny(args.run, args.step, by=args.by, reason=args.reason)
    if delivery == "posted":  # the run is live in another process, which applies it
        waiting = StepStatus.WAITING_APPROVAL

        def applied(st: Any) -> bool:
            step = st.steps.get(args.step)
            return step is None or step.status is not waiting

        await kernel.wait_elsewhere(args.run, applied, timeout_s=args.wait_s)
        ok = applied(kernel.load(args.run))
        data = {"run_id": args.run, "step": args.step, "delivered": "posted", "applied": ok}
        _print(
            args,
            data,
            lambda: (
                "applied by the process running it"
                if ok
                else "posted to the live run; it has not applied it yet"
            ),
        )
        return 0 if ok else EXIT_CODES[RunStatus.PAUSED]
    if args.no_resume:
        _print(args, {"run_id": args.run, "step": args.step}, lambda: "decision recorded")
        return 0
    return await _finish(args, kernel, await kernel.resume(args.run))


async def cmd_cancel(args: argparse.Namespace) -> int:
    kernel = _kernel(args)
    result = await kernel.cancel(args.run)
    data = _summary(kernel, result.run_id)
    _print(args, data, lambda: _human_summary(data))
    return 0


async def cmd_replay(args: argparse.Namespace) -> int:
    kernel = _kernel(args)
    report = await kernel.replay(args.run)
    data = report.model_dump(mode="json")

    def human() -> str:
        head = f"replay {report.run_id}: {len(report.divergences)} divergence(s), "
        head += f"{report.live_calls} live call(s), {report.steps_replayed} step(s) replayed"
        return "\n".join([head, *(f"  {d.message}" for d in report.divergences)])

    _print(args, data, human)
    return 0 if report.ok else 1


def cmd_show(args: argparse.Namespace) -> int:
    kernel = _kernel(args)
    view = kernel.show(args.run)
    _print(args, view.model_dump(mode="json"), lambda: _human_summary(_summary(kernel, args.run)))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    kernel = _kernel(args)
    rows = [
        {"run_id": s.run_id, "status": s.status.value, "name": s.name, "steps": len(s.steps)}
        for s in kernel.runs()
    ]

    def human() -> str:
        if not rows:
            return f"no runs under {kernel.store.root}"
        return "\n".join(f"{r['run_id']}  {r['status']:<10} {r['name']}" for r in rows)

    _print(args, rows, human)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    kernel = _kernel(args)
    kernel.show(args.run)  # raises RunNotFoundError with the fix
    log = kernel.store.read(args.run)
    body = {
        "view": kernel.show(args.run).model_dump(mode="json"),
        "records": [r.model_dump(mode="json") for r in log.records],
        "recovery": log.report.model_dump(),
    }
    text = json.dumps(body, indent=2, sort_keys=True)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({len(log.records)} records)")
    else:
        print(text)
    return 0


def _describe(value: BaseModel | dict[str, Any], indent: str = "") -> str:
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    lines = []
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"{indent}{k}:")
            lines.append(_describe(v, indent + "  "))
        elif isinstance(v, list):
            shown = ", ".join(json.dumps(x) if isinstance(x, dict) else str(x) for x in v)
            lines.append(f"{indent}{k}: {shown or '-'}")
        else:
            lines.append(f"{indent}{k}: {v}")
    return "\n".join(lines)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from sgr_kernel.sandbox import admin

    info: BaseModel
    if args.action == "build":
        info = admin.build_image(force=args.force)
    elif args.action == "status":
        info = admin.sandbox_status()
    else:
        info = admin.prune()
    _print(args, info.model_dump(mode="json"), lambda: _describe(info))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from sgr_kernel.sandbox import admin

    report = admin.doctor()
    _print(args, report.model_dump(mode="json"), lambda: _describe(report))
    return 0 if getattr(report, "ok", True) else 1


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sgr", description="Run, inspect and replay agent runs.")
    p.add_argument("--home", help="store root (default: $SGR_HOME or ~/.sgr)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(name: str, help: str, fn: Callable[..., Any]) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.set_defaults(fn=fn)
        return sp

    run = cmd("run", "run a plan file (YAML/JSON) or plan and run a task", cmd_run)
    run.add_argument("target", help="a plan file, or the task text in quotes")
    run.add_argument("--name")
    run.add_argument("--durability", choices=["sync", "batch", "none"], default="sync")
    run.add_argument("--approval", choices=["ask", "auto"], default="ask")
    run.add_argument("--max-concurrency", type=int, default=8)
    run.add_argument("--max-steps", type=int)
    run.add_argument("--max-tokens", type=int)
    run.add_argument("--max-cost-usd", type=float)
    run.add_argument("--max-wall-s", type=float)
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
        d.add_argument("--by", default="cli")
        d.add_argument("--no-resume", action="store_true", help="record the decision only")
        d.add_argument(
            "--wait-s",
            type=float,
            default=15.0,
            help="for a run live in another process: how long to wait for it to apply",
        )
        if name == "deny":
            d.add_argument("--reason")
    cmd("cancel", "cancel a run", cmd_cancel).add_argument("run")
    exp = cmd("export", "export a run's view and records as JSON", cmd_export)
    exp.add_argument("run")
    exp.add_argument("--out", help="file to write (default: stdout)")
    sb = cmd("sandbox", "build, inspect or prune the sandbox image", cmd_sandbox)
    sb.add_argument("action", choices=["build", "status", "prune"])
    sb.add_argument("--force", action="store_true", help="rebuild even if up to date")
    cmd("doctor", "check the Docker engine, the sandbox image and limits", cmd_doctor)
    from sgr_kernel.cli_cluster import add_commands

    add_commands(cmd)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = args.fn(args)
        code = asyncio.run(out) if asyncio.iscoroutine(out) else out
    except SgrUsageError as e:
        print(f"sgr: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TraceError as e:
        print(f"sgr: trace error: {e}", file=sys.stderr)
        return EXIT_TRACE
    except KeyboardInterrupt:
        return 130
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
