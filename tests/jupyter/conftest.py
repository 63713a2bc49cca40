from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

# pytest runs with --import-mode=importlib, so a helper module beside the tests is not on
# sys.path by itself; the fake kernel lives there to keep it out of the shipped package.
sys.path.insert(0, str(Path(__file__).parent))
from jupyter_fake_kernel import FakeKernel

from sgr_jupyter.config import SgrConfig
from sgr_jupyter.magics import SgrMagics
from sgr_jupyter.session import Session


@dataclass
class Env:
    shell: InteractiveShell
    magics: SgrMagics
    session: Session
    kernels: dict[str, FakeKernel] = field(default_factory=dict)

    def kernel(self, mode: str = "ask") -> FakeKernel:
        return self.kernels[mode]


@pytest.fixture
def env(tmp_path) -> Iterator[Env]:
    shell = InteractiveShell.instance()
    shell.config.pop("SgrMagics", None)  # %config in other tests must not leak in
    kernels: dict[str, FakeKernel] = {}

    def factory(cfg: SgrConfig) -> FakeKernel:
        kernels[cfg.approval_mode] = FakeKernel(cfg.approval_mode)
        return kernels[cfg.approval_mode]

    session = Session(kernel_factory=factory)
    magics = SgrMagics(shell=shell, session=session)
    magics.home = str(tmp_path / "home")
    magics.widget = False
    shell.register_magics(magics)
    yield Env(shell, magics, session, kernels)
    session.close()
    shell.user_ns.pop("_sgr", None)
