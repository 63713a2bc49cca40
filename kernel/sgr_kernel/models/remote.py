"""The description of a job sent to a remote backend (docs/remote.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sgr_kernel.safety import check_shape

__all__ = ["RemoteJobSpec"]


class RemoteJobSpec(BaseModel):
    """A unit of heavy work for the Dispatcher. ``idempotency_key`` makes resubmits safe."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    job_type: str = Field(
        min_length=1, max_length=200, description="Name of the job function on the worker."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="JSON-serialisable inputs.")
    resources: dict[str, float | int | str] = Field(
        default_factory=dict, description="e.g. {'GPU': 1, 'memory': '8GB'}."
    )
    timeout_s: float | None = Field(
        None, gt=0, le=7 * 24 * 3600, description="The dispatcher's own deadline (<= 7 days)."
    )
    retries: int = Field(0, ge=0, le=100, description="Resubmits after a job error.")
    idempotency_key: str = Field(min_length=1, description="Run id + step id + attempt.")
    priority: int = Field(
        0, ge=-1000, le=1000, description="Higher runs first where the backend supports it."
    )

    @field_validator("params")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        # A job body crosses to another process: bounded depth and size, finite numbers.
        check_shape(value)
        return value
