"""``sgr corpus``: index folders for deep research (an ``sgr.cli`` plug-in).

- ``sgr corpus add DIR [--name NAME]`` indexes a folder (again: only what changed);
- ``sgr corpus add --python-docs`` indexes Debian's ``python3.11-doc`` HTML (install it with
  ``scripts/install-python-docs.sh``, which also runs this);
- ``sgr corpus list`` shows every corpus with its documents and passages.

``--index FILE`` (default ``$SGR_HOME/corpus/index.sqlite``) picks another index.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sgr_kernel._cli_output import out
from sgr_kernel.errors import SgrUsageError
from sgr_skills.research._index import CorpusIndex

__all__ = ["PYTHON_DOCS", "add_commands"]

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html")
"""Where Debian's ``python3.11-doc`` package puts the Python documentation."""


def cmd_corpus(args: argparse.Namespace) -> int:
    index = CorpusIndex(args.index)
    if args.action == "list":
        infos = index.corpora()
        if args.json:
            out(json.dumps([asdict(i) for i in infos], indent=2))
        else:
            for i in infos:
                out(f"{i.name:<24} {i.documents:>6} docs {i.chunks:>7} passages  {i.root}")
            if not infos:
                out("no corpus yet: sgr corpus add DIR")
        return 0
    if args.python_docs:
        if args.dir:
            raise SgrUsageError("give either DIR or --python-docs, not both")
        if not PYTHON_DOCS.is_dir():
            raise SgrUsageError(
                f"{PYTHON_DOCS} is missing: run scripts/install-python-docs.sh "
                "(apt-get install python3.11-doc)"
            )
        root, name = PYTHON_DOCS, args.name or "python-docs"
    elif not args.dir:
        raise SgrUsageError("sgr corpus add needs a folder (or --python-docs)")
    else:
        root, name = Path(args.dir), args.name
    try:
        stats = index.add(root, name)
    except (NotADirectoryError, ValueError) as e:
        raise SgrUsageError(str(e)) from None
    if args.json:
        out(json.dumps(asdict(stats), indent=2))
    else:
        out(
            f"corpus {stats.corpus}: {stats.added} added, {stats.updated} updated, "
            f"{stats.unchanged} unchanged, {stats.removed} removed, {stats.chunks} new passages"
            + (f", {len(stats.skipped)} skipped" if stats.skipped else "")
        )
        for line in stats.skipped:
            out(f"  skipped {line}")
    return 0


def add_commands(cmd: Callable[[str, str, Callable[..., Any]], argparse.ArgumentParser]) -> None:
    """Add ``corpus`` to the ``sgr`` parser."""
    c = cmd("corpus", "index folders of documents for deep research; list them", cmd_corpus)
    c.add_argument("action", choices=["add", "list"])
    c.add_argument("dir", nargs="?", help="for `add`: a folder of .md/.txt/.rst/.html/.pdf files")
    c.add_argument("--name", help="corpus name (default: the folder's name)")
    c.add_argument("--python-docs", action="store_true", help="index Debian's python3.11-doc")
    c.add_argument("--index", help="index file (default: $SGR_HOME/corpus/index.sqlite)")
