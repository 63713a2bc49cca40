"""The one error tree of the agent kernel.

Misuse (a caller or user got something wrong) is kept apart from runtime failure (a step
failed while running). Each misuse error carries a ``code`` that names its section in
``docs/errors.md``. Control-flow signals (cancel, interrupt) are not errors.

::

    SgrError
    ├── SgrUsageError                 misuse: fix the input and try again (has ``code``)
    │   ├── PlanParseError            a plan file is not valid YAML/JSON or not a plan
    │   ├── PlanValidationError       a plan fails validation (every problem listed)
    │   ├── RunNotFoundError          no run with that id in the store
    │   ├── InvalidRunIdError         a run id that cannot name a directory safely
    │   ├── ApprovalError             approve/deny of a step that is not waiting
    │   ├── ConfigError               a setting is missing or malformed
    │   └── ClusterConnectError       a Dask scheduler address is bad or unreachable
    ├── TraceError                    the trace store cannot do what was asked
    │   ├── TraceCorruptError         damage in the middle of a WAL (names the seq)
    │   ├── TraceLockedError          another writer holds the run
    │   ├── RunNotCreatedError        a run whose creation never became durable
    │   └── TraceWriteError           a write or fsync failed; the run needs recovery
    ├── ReplayDivergenceError         the code asked for something the trace did not record
    ├── IllegalTransitionError        a state-machine bug: never caught, always a defect
    └── StepError                     a step failed at run time (run, step, attempt)
        ├── SkillFailed               the skill raised (retryable unless it says otherwise)
        ├── StepContractError         inputs/outputs do not fit the skill's models (never retried)
        ├── ResumeMismatch            a resumed step's calls differ from its logged ones
        ├── StepTimeout               a step ran past its deadline (retryable)
        ├── BudgetExceeded            a budget would be overrun (the run is ABORTED)
        ├── ApprovalDenied            a human said no (never retried)
        ├── CapabilityDenied          a policy said no (never retried)
        ├── SideEffectInDoubt         a non-idempotent effect may or may not have happened
        ├── CircuitOpen               a provider/backend breaker is open
        ├── LLMError                  the model call failed (subclasses decide retryability)
        ├── SandboxError              the sandbox could not run the code
        └── RemoteJobError            a remote job failed or was lost
            └── RemoteResourceUnavailable  no worker offers the resources a job asks for
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ApprovalDenied",
    "ApprovalError",
    "BudgetExceeded",
    "CapabilityDenied",
    "CircuitOpen",
    "ClusterConnectError",
    "ConfigError",
    "IllegalTransitionError",
    "InvalidRunIdError",
    "LLMAuthError",
    "LLMConnectionError",
    "LLMError",
    "LLMInvalidOutput",
    "LLMRateLimited",
    "LLMServerError",
    "LLMTimeout",
    "PlanParseError",
    "PlanValidationError",
    "RemoteJobError",
    "RemoteResourceUnavailable",
    "ReplayDivergenceError",
    "ResumeMismatch",
    "RunNotCreatedError",
    "RunNotFoundError",
    "SandboxError",
    "SandboxExecutionError",
    "SandboxTimeout",
    "SandboxUnavailable",
    "SgrError",
    "SgrUsageError",
    "SideEffectInDoubt",
    "SkillFailed",
    "StepContractError",
    "StepError",
    "StepTimeout",
    "TraceCorruptError",
    "TraceError",
    "TraceLockedError",
    "TraceWriteError",
]

DOCS = "docs/errors.md"


class SgrError(Exception):
    """Root of every error the kernel raises on purpose."""


# ---------------------------------------------------------------- misuse


class SgrUsageError(SgrError):
    """The caller or user got something wrong; the message says what and how to fix it."""

    code: ClassVar[str] = "usage"

    def __str__(self) -> str:
        return f"{super().__str__()} (see {DOCS}#{self.code})"


class PlanParseError(SgrUsageError):
    """A plan file is not valid YAML/JSON, or its top level is not a plan."""

    code = "plan-parse"


class PlanValidationError(SgrUsageError):
    """A plan failed validation. ``problems`` lists every problem found, not just the first."""

    code = "plan-invalid"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the plan has {len(self.problems)} problem(s); nothing ran:\n{lines}")


class RunNotFoundError(SgrUsageError):
    """No run with this id exists in the store."""

    code = "run-not-found"

    def __init__(self, run_id: str, root: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run {run_id!r} under {root}; `sgr runs` lists the runs there")


class InvalidRunIdError(SgrUsageError):
    """A run id that cannot safely name a directory (empty, ``/``, ``..``, NUL, too long)."""

    code = "run-id"

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"invalid run id {run_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


class ApprovalError(SgrUsageError):
    """Approve/deny named a step that is not waiting for a decision."""

    code = "approval"


class ConfigError(SgrUsageError):
    """A setting is missing or malformed."""

    code = "config"


class ClusterConnectError(SgrUsageError):
    """A Dask scheduler address is malformed, unreachable or runs an incompatible version."""

    code = "cluster-connect"


# ---------------------------------------------------------------- trace


class TraceError(SgrError):
    """The trace store could not do what was asked."""


class TraceCorruptError(TraceError):
    """A WAL is damaged before its tail; it is refused rather than silently skipped."""

    def __init__(self, path: str, seq: int | None, line: int, reason: str) -> None:
        self.path, self.seq, self.line, self.reason = path, seq, line, reason
        where = f"record seq={seq}" if seq is not None else f"line {line}"
        super().__init__(
            f"{path}: {where} is damaged ({reason}) and valid records follow it; "
            "the run cannot be resumed automatically. Export what is readable with "
            "`sgr export RUN` and inspect the file, or restore it from a copy."
        )


class TraceLockedError(TraceError):
    """Another process is writing this run."""

    def __init__(self, run_id: str, holder: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"run {run_id!r} is being written by another process ({holder}); "
            "one writer per run. Wait for it or stop it first."
        )


class RunNotCreatedError(TraceError):
    """A run directory whose log ends before its ``run_created`` record: the process making it
    died first, so the run never existed. It is not listed and cannot be resumed."""

    def __init__(self, run_id: str, root: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"run {run_id!r} under {root} was never created: its log has no run_created "
            "record (the process making it stopped first), so nothing of it ran. Start a new "
            f"run; the leftover folder {root}/runs/{run_id} can be deleted."
        )


class TraceWriteError(TraceError):
    """A write or fsync failed. Nothing after it is acknowledged; the run needs recovery."""


class ReplayDivergenceError(SgrError):
    """The code under replay asked for something other than what the trace recorded."""

    def __init__(self, step: str | None, expected: Any, actual: Any, detail: str = "") -> None:
        self.step, self.expected, self.actual = step, expected, actual
        msg = f"replay diverged at step {step!r}: expected {expected!r}, got {actual!r}"
        super().__init__(f"{msg}. {detail}".strip() if detail else msg)


class IllegalTransitionError(SgrError):
    """A state machine was asked for a transition its table forbids. Always a bug."""

    def __init__(self, kind: str, current: str, target: str, subject: str = "") -> None:
        self.kind, self.current, self.target = kind, current, target
        super().__init__(f"illegal {kind} transition {current} -> {target} {subject}".strip())


# ---------------------------------------------------------------- runtime


class StepError(SgrError):
    """A step failed at run time.

    ``retryable`` is a property of the error type (a class attribute), never of its message.
    The engine fills in ``run_id``, ``step_id`` and ``attempt`` when the error crosses it.
    """

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        run_id: str | None = None,
        step_id: str | None = None,
        attempt: int | None = None,
    ) -> None:
        super().__init__(message)
        self.run_id, self.step_id, self.attempt = run_id, step_id, attempt


class SkillFailed(StepError):
    """The skill raised an exception of its own."""

    retryable = True


class StepContractError(StepError):
    """A step's resolved inputs or its output do not fit the skill's models."""


class StepTimeout(StepError):
    """The step ran past its deadline and was stopped."""

    retryable = True


class BudgetExceeded(StepError):
    """Going on would overrun a budget; the run is ABORTED with this reason."""

    def __init__(self, resource: str, used: float, limit: float, **kw: Any) -> None:
        self.resource, self.used, self.limit = resource, used, limit
        super().__init__(f"budget exceeded: {resource} {used:g} of {limit:g}", **kw)


class ApprovalDenied(StepError):
    """A human denied the step."""


class CapabilityDenied(StepError):
    """The step asked for a capability the run does not grant."""


class ResumeMismatch(StepError):
    """A resumed step asked for something other than what its interrupted attempt logged."""


class SideEffectInDoubt(StepError):
    """A non-idempotent side effect started and its outcome is unknown; never auto-retried."""


class CircuitOpen(StepError):
    """The circuit breaker of a provider or backend is open."""


class LLMError(StepError):
    """A model call failed."""


class LLMRateLimited(LLMError):
    """The provider asked us to slow down (HTTP 429)."""

    retryable = True

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s


class LLMAuthError(LLMError):
    """The provider refused the credentials."""


class LLMTimeout(LLMError):
    """The provider did not answer in time."""

    retryable = True


class LLMServerError(LLMError):
    """The provider failed on its side (HTTP 5xx)."""

    retryable = True


class LLMConnectionError(LLMError):
    """The provider could not be reached."""

    retryable = True


class LLMInvalidOutput(LLMError):
    """The model's output stayed invalid after the bounded repair loop."""


class SandboxError(StepError):
    """The sandbox could not run the code."""


class SandboxUnavailable(SandboxError):
    """No engine, no image or a dead socket: the code is not run anywhere (fail closed)."""


class SandboxTimeout(SandboxError):
    """The code ran past its deadline in the sandbox."""

    retryable = True


class SandboxExecutionError(SandboxError):
    """The code ran and raised; the traceback is in the message."""


class RemoteJobError(StepError):
    """A remote job failed or was lost."""

    retryable = True


class RemoteResourceUnavailable(RemoteJobError):
    """No worker offers the resources a job asks for (within the configured wait)."""

    retryable = False
