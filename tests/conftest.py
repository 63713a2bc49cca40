"""The whole suite: remote jobs run inline unless a test asks for Dask.

By default a kernel sends remote jobs to an embedded Dask cluster when Dask is installed. Most
tests define small jobs in-process and check other things; starting a cluster for each would
cost seconds and move those jobs out of reach. Tests of the Dask path pass a dispatcher or set
``SGR_DISPATCHER`` themselves; ``tests/kernel/dispatch/test_dispatch_config.py`` checks the
default itself with the variable removed. Set here, the choice reaches child processes too.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

os.environ.setdefault("SGR_DISPATCHER", "inline")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``local_model`` tests need llama-cpp-python, which compiles for minutes: without it they
    are skipped, except under ``CI=true``, where they run (and fail) because CI installs it."""
    if os.environ.get("CI") or importlib.util.find_spec("llama_cpp") is not None:
        return
    skip = pytest.mark.skip(
        reason="llama_cpp is not installed (scripts/install-local-model.sh .venv installs it)"
    )
    for item in items:
        if "local_model" in item.keywords:
            item.add_marker(skip)


def pytest_unconfigure(config: object) -> None:
    """llama-cpp-python opens two ``/dev/null`` files at import and never closes them; with
    warnings as errors their ResourceWarning would be the last lines ``make test`` prints."""
    import sys

    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        f = getattr(utils, name, None)
        if f is not None and not f.closed:
            f.close()
