"""``sgr sandbox|doctor|models``: the machine's side of the command (image, engine, model)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from sgr_kernel import _cli_boundary as cb

__all__ = ["add_commands"]


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
    cb.emit(args.json, info.model_dump(mode="json"), lambda: _describe(info))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from sgr_kernel.llm.discover import describe_llm, llm_status
    from sgr_kernel.sandbox import admin

    report = admin.doctor()
    llm = llm_status()  # for an endpoint: its structured-output mode (cached or probed)
    data = {**report.model_dump(mode="json"), "llm": llm.model_dump(mode="json")}
    cb.emit(args.json, data, lambda: _describe(report) + "\n" + describe_llm(llm))
    return 0 if getattr(report, "ok", True) else 1


def cmd_models(args: argparse.Namespace) -> int:
    from sgr_kernel.llm.discover import describe_models, models_report

    report = models_report(check_load=not args.no_load_check)
    cb.emit(args.json, report.model_dump(mode="json"), lambda: describe_models(report))
    return 0


def add_commands(cmd: Callable[[str, str, Callable[..., Any]], argparse.ArgumentParser]) -> None:
    """Add ``sandbox``, ``doctor`` and ``models`` to the ``sgr`` parser."""
    sb = cmd("sandbox", "build, inspect or prune the sandbox image", cmd_sandbox)
    sb.add_argument("action", choices=["build", "status", "prune"])
    sb.add_argument("--force", action="store_true", help="rebuild even if up to date")
    cmd("doctor", "check the Docker engine, the sandbox image and limits", cmd_doctor)
    models = cmd("models", "list the configured model and the GGUF files found", cmd_models)
    models.add_argument("--no-load-check", action="store_true", help="skip the load check")
