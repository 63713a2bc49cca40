"""The dispatch package's public names are pinned, and importing it does not import Dask."""

from __future__ import annotations

import subprocess
import sys

import sgr_kernel.dispatch as dispatch


def test_exported_names_are_pinned() -> None:
    assert sorted(dispatch.__all__) == [
        "ARTIFACTS",
        "DaskDispatcher",
        "Dispatcher",
        "InlineDispatcher",
        "JobCancelled",
        "JobContext",
        "JobHandle",
        "ObservableDispatcher",
        "Progress",
        "current_job",
        "job",
    ]
    for name in dispatch.__all__:
        assert getattr(dispatch, name) is not None


def test_importing_the_kernel_and_dispatch_does_not_import_dask() -> None:
    code = (
        "import sys, sgr_kernel.dispatch, sgr_kernel.engine.kernel, sgr_kernel.cli; "
        "print(any(m == 'distributed' or m.startswith('distributed.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
