"""The ``sgr`` command with :class:`~sgr_kernel.testing.jobs.RemoteJobSkill` added, for tests
that kill and resume real ``sgr run`` processes with remote steps:
``python -m sgr_kernel.testing.remote_cli run plan.yaml``."""

from __future__ import annotations

import sys

from sgr_kernel import _defaults
from sgr_kernel.cli import main
from sgr_kernel.testing.jobs import skills_with_remote_job

_defaults.default_skills = skills_with_remote_job

if __name__ == "__main__":
    sys.exit(main())
