from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

# pytest runs with --import-mode=importlib, so helper modules beside the tests (the service
# helpers) are not on sys.path by themselves.
sys.path.insert(0, str(Path(__file__).parent))

from sgr_jupyter.magics import SgrMagics
from sgr_jupyter.session import Session
from sgr_kernel.engine.kernel import Kernel
from sgr_kernel.runs import Runs

PLANNED = {"steps": [{"skill": "format", "inputs": {"template": "summed"}}]}
"""What the scripted model answers to a task: a one-step plan with no model step."""


@dataclass
class Env:
    """A real shell, magics and session over real kernels (a scripted model, no durability)."""

    shell: InteractiveShell
    magics: SgrMagics
    session: Session

    def kernel(self, mode: str = "ask") -> Kernel:
        return self.session.kernel(self.magics.frozen_config().with_overrides(approval_mode=mode))

    def runs(self, mode: str = "ask") -> Runs:
        return self.session.api(self.kernel(mode))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    shell = InteractiveShell.instance()
    shell.config.pop("SgrMagics", None)  # %config in other tests must not leak in
    replies = tmp_path / "replies.jsonl"
    replies.write_text(json.dumps(PLANNED) + "\n", encoding="utf-8")
    session = Session()
    magics = SgrMagics(shell=shell, session=session)
    magics.home = str(tmp_path / "home")
    magics.provider = f"scripted:{replies}"
    magics.durability = "none"
    magics.widget = False
    shell.register_magics(magics)
    yield Env(shell, magics, session)
    session.close()
    shell.user_ns.pop("_sgr", None)
