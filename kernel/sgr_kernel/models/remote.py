"""The description of a job sent to a remote backend (DESIGN §3.7)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RemoteJobSpec"]


class RemoteJobSpec(BaseModel):
    """A unit of heavy work for the Dispatcher. ``idempotency_key`` makes resubmits safe."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_type: str = Field(min_length=1, description="Name of the job function on the worker.")
    params: dict[str, Any] = Field(default_factory=dict, description="JSON-serialisable inputs.")
    resources: dict[str, float | int | str] = Field(
        default_factory=dict, description="e.g. {'GPU': 1, 'memory': '8GB'}."
    )
    timeout_s: float | None = Field(None, gt=0, description="The dispatcher's own deadline.")
    retries: int = Field(0, ge=0, description="Resubmits after a job error.")
    idempotency_key: str = Field(min_length=1, description="Run id + step id + attempt.")
    priority: int = Field(0, description="Higher runs first where the backend supports it.")
