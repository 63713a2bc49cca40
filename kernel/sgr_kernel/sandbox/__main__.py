"""``python -m sgr_kernel.sandbox build|status|prune|doctor``: the admin functions as a command.

Prints the result as JSON; exits 1 when the engine or image is not usable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import BaseModel

from sgr_kernel.errors import SandboxUnavailable
from sgr_kernel.sandbox import admin


def main(argv: list[str] | None = None) -> int:
    """Run one admin subcommand; return the exit status."""
    p = argparse.ArgumentParser(prog="python -m sgr_kernel.sandbox")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the sgr-sandbox image (no registry needed)")
    b.add_argument("--wheel", action="append", default=[], help="extra wheel file to install")
    b.add_argument("--force", action="store_true", help="rebuild even when the tag exists")
    sub.add_parser("status", help="engine, image and sandbox containers")
    pr = sub.add_parser("prune", help="remove orphaned sandbox containers")
    pr.add_argument("--images", action="store_true", help="also remove old sgr-sandbox images")
    pr.add_argument("--all", action="store_true", help="remove every sandbox container")
    sub.add_parser("doctor", help="can sandboxed code run here?")
    args = p.parse_args(argv)
    out: BaseModel
    try:
        if args.cmd == "build":
            out = admin.build_image([Path(w) for w in args.wheel], force=args.force)
        elif args.cmd == "status":
            out = admin.sandbox_status()
        elif args.cmd == "prune":
            out = admin.prune(images=args.images, everything=args.all)
        else:
            report = admin.doctor()
            print(report.model_dump_json(indent=2))
            return 0 if report.ok else 1
    except SandboxUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(out.model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
