"""The whole suite: remote jobs run inline unless a test asks for Dask.

By default a kernel sends remote jobs to an embedded Dask cluster when Dask is installed. Most
tests define small jobs in-process and check other things; starting a cluster for each would
cost seconds and move those jobs out of reach. Tests of the Dask path pass a dispatcher or set
``SGR_DISPATCHER`` themselves; ``tests/kernel/dispatch/test_dispatch_config.py`` checks the
default itself with the variable removed. Set here, the choice reaches child processes too.
"""

from __future__ import annotations

import os

os.environ.setdefault("SGR_DISPATCHER", "inline")


def pytest_unconfigure(config: object) -> None:
    """llama-cpp-python opens two ``/dev/null`` files at import and never closes them; with
    warnings as errors their ResourceWarning would be the last lines ``make test`` prints."""
    import sys

    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        f = getattr(utils, name, None)
        if f is not None and not f.closed:
            f.close()
