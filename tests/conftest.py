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
