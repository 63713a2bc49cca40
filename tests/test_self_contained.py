"""The repository explains itself: no source file or document points at material outside it
(the design notes it was first written from are not shipped; what they said is in docs/)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(
    r"STYLE\s*(?:rules?\s*)?(?:§|\d)|DESIGN\s*(?:§|\.md)|\.\./shared|/work/shared"
    r"|(?:backend|remote-work|frontend)-spikes|reliability-tests\s*§|anchor-baselines"
)
KINDS = (".py", ".md", ".ts", ".js", ".toml", ".ipynb", ".cfg", ".yml", ".yaml")


def _tracked() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return [ROOT / p for p in out if p.endswith(KINDS) and "node_modules" not in p]


def test_nothing_cites_documents_outside_the_repository() -> None:
    me = Path(__file__).resolve()
    found = []
    for path in _tracked():
        if path == me or not path.is_file():
            continue
        text = path.read_text("utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert found == [], "cite a file in this repository instead:\n" + "\n".join(found)
