"""How a failure is written down: a value, not an exception, so it can cross seams and the trace."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sgr_kernel.errors import StepError

__all__ = ["FailureRecord"]

MAX_MESSAGE = 4000


class FailureRecord(BaseModel):
    """A failed attempt: the error's type, whether its type is retryable, and what it said."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(description="Class name of the exception.")
    retryable: bool = Field(description="A property of the type, never of the message.")
    message: str = Field(description="What went wrong, truncated to a few KB.")
    attempt: int = Field(ge=1, description="Which attempt failed (1-based).")

    @classmethod
    def from_exception(cls, exc: BaseException, attempt: int) -> FailureRecord:
        retryable = exc.retryable if isinstance(exc, StepError) else True
        msg = str(exc) or type(exc).__name__
        if len(msg) > MAX_MESSAGE:
            msg = msg[:MAX_MESSAGE] + f"… [{len(msg) - MAX_MESSAGE} more characters]"
        return cls(type=type(exc).__name__, retryable=retryable, message=msg, attempt=attempt)
