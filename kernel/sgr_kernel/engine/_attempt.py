"""One attempt of one step: resolve inputs, run the skill under its deadline, check its output."""

from __future__ import annotations

import json
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from sgr_kernel.engine.context import RunContext, rebuild_error
from sgr_kernel.engine.reliability import run_in_process
from sgr_kernel.engine.runtime import RunRuntime
from sgr_kernel.errors import StepContractError
from sgr_kernel.graph.dag import Dag
from sgr_kernel.models.plan import StepSpec
from sgr_kernel.models.refs import RefError, resolve_inputs
from sgr_kernel.models.status import StepStatus
from sgr_kernel.skills.base import Skill, effective_capabilities
from sgr_kernel.trace.state import RecordedCall

__all__ = ["MAX_INPUT_BYTES", "Attempts", "Outcome", "execute_attempt"]

MAX_INPUT_BYTES = 8 * 1024 * 1024
"""Resolved inputs larger than this (as JSON) fail the step instead of being handed on."""


@dataclass(slots=True)
class Outcome:
    """How an attempt ended: an output, or an error (and whether an effect is in doubt)."""

    step: str
    attempt: int
    output: dict[str, Any] | None = None
    error: BaseException | None = None
    in_doubt: bool = False
    interrupted: bool = False
    """Replay only: the recorded attempt was cut short by a crash."""


def _inputs(spec: StepSpec, skill: type[Skill], outputs: Mapping[str, Any]) -> BaseModel:
    values: Any = {}
    if spec.inputs:  # else nothing to resolve, nor to bound
        try:
            values = resolve_inputs(spec.inputs, outputs)
        except RefError as e:
            raise StepContractError(f"cannot resolve inputs: {e}") from None
    # Literal inputs are bounded by the plan's size limit; only substituted ones (from the
    # parents' outputs) can grow.
    if outputs and values != spec.inputs:
        size = len(json.dumps(values, default=str))
        if size > MAX_INPUT_BYTES:
            raise StepContractError(
                f"resolved inputs are {size} bytes, over the {MAX_INPUT_BYTES} byte limit; "
                "pass large data as an artifact or a file path"
            )
    try:
        # What ``model_validate`` calls, without its keyword plumbing (a hot path).
        return skill.Input.__pydantic_validator__.validate_python(values)  # type: ignore[no-any-return]
    except ValidationError as e:
        raise StepContractError(f"inputs do not fit skill {skill.name!r}: {e}") from None


def _output(skill: type[Skill], out: Any) -> dict[str, Any]:
    try:
        model = out if isinstance(out, skill.Output) else skill.Output.model_validate(out)
    except ValidationError as e:
        raise StepContractError(f"skill {skill.name!r} returned a bad output: {e}") from None
    # What ``model_dump(mode="json")`` calls, without its keyword plumbing (a hot path).
    return model.__pydantic_serializer__.to_python(model, mode="json")  # type: ignore[no-any-return]


async def execute_attempt(
    rt: RunRuntime,
    spec: StepSpec,
    skill_cls: type[Skill],
    attempt: int,
    outputs: Mapping[str, Any],
    *,
    capabilities: frozenset[str] | None = None,
    carry: dict[int, RecordedCall] | None = None,
) -> Outcome:
    """Run one attempt; never raises (but for cancellation): errors come back in the Outcome.

    ``outputs`` holds the committed outputs of the step's parents, which is every step its
    references can name. ``capabilities``: what the attempt may use, when the caller computed
    it already (``effective_capabilities``). ``carry``: the finished calls of an attempt a crash
    cut short, served from the log instead of being made again (see ``RunContext``).
    """
    recorded = rt.recorded.attempts.get((spec.id, attempt)) if rt.recorded else None
    if rt.replaying:
        if (
            recorded is None
            or recorded.outcome is None
            or (recorded.outcome is StepStatus.RETRY_WAIT and recorded.failure is None)
        ):
            # The original process died during this attempt; replay mirrors the interruption.
            return Outcome(spec.id, attempt, interrupted=True)
        if recorded.failure and recorded.failure.type == "StepTimeout":
            # A deadline is wall time: replay takes the recorded verdict instead of re-running.
            return Outcome(spec.id, attempt, error=rebuild_error(recorded.failure))
    # What the skill declares, narrowed to what the run and the step grant: never more.
    caps = capabilities
    if caps is None:
        caps = effective_capabilities(skill_cls, spec, rt.config.grants)
    ctx = RunContext(rt, spec.id, attempt, capabilities=caps, recorded=recorded, carry=carry)
    try:
        inputs = _inputs(spec, skill_cls, outputs)
        skill = skill_cls()
        timeout = spec.timeout_s or rt.config.default_timeout_s
        if skill_cls.isolation == "process" and not rt.replaying:
            out: Any = await run_in_process(skill.run_blocking, inputs, timeout)
        elif timeout is None:  # no deadline: no wrapper coroutine either (the hot path)
            out = await skill.run(ctx, inputs)
        else:
            out = await rt.reliability.with_timeout(lambda: skill.run(ctx, inputs), timeout)
        return Outcome(spec.id, attempt, output=_output(skill_cls, out))
    except Exception as e:
        return Outcome(spec.id, attempt, error=e, in_doubt=ctx.in_doubt)


class Attempts:
    """Starts the attempts of one run's steps with what each needs from the run: its parents'
    outputs, its skill, what it may use, and what an interrupted attempt carries over."""

    __slots__ = ("_caps", "_dag", "_rt", "_skills", "carry")

    def __init__(self, rt: RunRuntime, dag: Dag, skills: Mapping[str, type[Skill]]) -> None:
        self._rt, self._dag, self._skills = rt, dag, skills
        self._caps: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}
        """(skill, the step's own grants) -> what its attempts may use (computed once)."""
        self.carry: dict[str, dict[int, RecordedCall]] = {}
        """Resumed steps: the calls their interrupted attempt finished, served from the log."""

    def start(self, spec: StepSpec, attempt: int) -> Coroutine[Any, Any, Outcome]:
        """The attempt, to await (a plain call: no coroutine frame of its own)."""
        rt = self._rt
        steps = rt.journal.state.steps
        # What the step's references can name (a step without inputs names none).
        parents = self._dag.parents[spec.id]
        outputs = {p: steps[p].output for p in parents} if spec.inputs else {}
        skill = self._skills[spec.skill]
        carry = self.carry.pop(spec.id, None) if self.carry else None
        key = (spec.skill, spec.capabilities)
        caps = self._caps.get(key)
        if caps is None:
            # What the skill declares, narrowed to what the run and the step grant: never more.
            caps = self._caps[key] = effective_capabilities(skill, spec, rt.config.grants)
        return execute_attempt(rt, spec, skill, attempt, outputs, capabilities=caps, carry=carry)
