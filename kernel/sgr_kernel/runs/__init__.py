"""The runs API: one kernel room for what every face shows about runs (docs/architecture.md).

``Runs`` lists, shows, exports, steers and replays the runs of a store; the CLI, the notebook
magics and the Jupyter server render its values and keep no copy of its rules.
"""

from sgr_kernel.runs._fold import artifacts_in
from sgr_kernel.runs.api import STEER_WAIT_S, Runs
from sgr_kernel.runs.base import (
    INLINE_MEDIA_TYPES,
    RUN_ID_PATTERN,
    Artifact,
    Delivery,
    Live,
    RunDetail,
    RunReport,
    RunSummary,
    Steered,
    StepLine,
    default_root,
    is_inline,
    is_internal_step,
    validate_run_id,
)

__all__ = [
    "INLINE_MEDIA_TYPES",
    "RUN_ID_PATTERN",
    "STEER_WAIT_S",
    "Artifact",
    "Delivery",
    "Live",
    "RunDetail",
    "RunReport",
    "RunSummary",
    "Runs",
    "Steered",
    "StepLine",
    "artifacts_in",
    "default_root",
    "is_inline",
    "is_internal_step",
    "validate_run_id",
]
