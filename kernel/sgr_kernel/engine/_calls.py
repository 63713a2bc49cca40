"""The call log of one attempt: numbering, recording, replaying and carrying over the calls a
step makes through its ``RunContext`` (see ``engine/context.py`` for the doors themselves).

Live, every answer is recorded: a ``value`` record for time/random/ids; an ``intent`` before
and a ``result`` after every call (the intent fsynced first when the call has side effects).
Replaying, answers come from the recording and each request is checked against it; the first
mismatch raises :class:`ReplayDivergenceError`. Calls are numbered per attempt, so concurrent
steps replay independently of scheduling order. Resuming, the calls an interrupted attempt
finished (``carry``) are served from the log and copied into the new attempt's records; a call
it did not finish is made live. Calls started together (remote jobs gathered at once) finish in
any order, so a finished call after an unfinished one is still served when it is exactly the
same call (kind and request); once the code asks for anything else, every call from there on
is live.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from sgr_kernel import errors
from sgr_kernel.engine.runtime import RunRuntime, fingerprint
from sgr_kernel.errors import (
    LLMConnectionError,
    LLMTimeout,
    ReplayDivergenceError,
    ResumeMismatch,
    SkillFailed,
    StepError,
    StepTimeout,
)
from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.trace._crash import crashpoint
from sgr_kernel.trace.base import RecordType
from sgr_kernel.trace.recorded import RecordedAttempt
from sgr_kernel.trace.state import RecordedCall

__all__ = ["CallLog", "rebuild_error"]

_UNKNOWN_OUTCOME = (StepTimeout, LLMTimeout, LLMConnectionError, TimeoutError, ConnectionError)


@cache
def _replayed_type(name: str, retryable: bool) -> type[StepError]:
    return type(name, (SkillFailed,), {"retryable": retryable, "__module__": __name__})


def rebuild_error(failure: FailureRecord) -> StepError:
    """An exception equivalent to a recorded failure: same type name, retryability, message."""
    cls = getattr(errors, failure.type, None)
    if not (isinstance(cls, type) and issubclass(cls, StepError)):
        cls = _replayed_type(failure.type, failure.retryable)
    err = cls.__new__(cls)
    StepError.__init__(err, failure.message)
    return err


class CallLog:
    """Numbers, records, replays and carries over the calls of one attempt of one step."""

    __slots__ = (
        "_attempt",
        "_caps",
        "_carry",
        "_n",
        "_recorded",
        "_rt",
        "_step",
        "_went_live",
        "in_doubt",
    )

    def __init__(
        self,
        rt: RunRuntime,
        step_id: str,
        attempt: int,
        *,
        capabilities: frozenset[str],
        recorded: RecordedAttempt | None = None,
        carry: dict[int, RecordedCall] | None = None,
    ) -> None:
        self._rt = rt
        self._step = step_id
        self._attempt = attempt
        self._caps = capabilities
        self._recorded = recorded
        self._carry = carry or None
        self._went_live = False
        self._n = 0
        self.in_doubt = False
        """A side effect started and its outcome is unknown (set by timeouts, cancellation)."""

    # ------------------------------------------------------------ identity

    @property
    def run_id(self) -> str:
        return self._rt.run_id

    @property
    def step_id(self) -> str:
        return self._step

    @property
    def attempt(self) -> int:
        return self._attempt

    # ------------------------------------------------------------ recording

    def _value(self, kind: str, live: Callable[[], Any]) -> Any:
        self._n += 1
        if self._rt.replaying:
            call = self._recorded_call(self._n, kind, None)
            if not call.is_value:
                raise ReplayDivergenceError(self._step, f"call {call.kind}", f"value {kind}")
            return call.value
        carried = self._carried(self._n, kind, None)
        value = carried.value if carried is not None else live()
        data: dict[str, Any] = {"attempt": self._attempt, "n": self._n, "kind": kind}
        data["value"] = value
        if carried is not None:
            data["carried"] = True
        self._rt.journal.append(RecordType.VALUE, data, step=self._step)
        return value

    def _carried(self, n: int, kind: str, request: dict[str, Any] | None) -> RecordedCall | None:
        """Resuming: call ``n`` as the interrupted attempt finished it, or None (go live)."""
        if self._carry is None:
            return None
        call = self._carry.get(n)
        if call is None or call.open:
            # This call is made live. Later calls may still have finished: calls made
            # together (remote jobs gathered at once) finish in any order. Those are served
            # when they are exactly the same call; anything else from here on is live.
            self._went_live = True
            return None
        if call.kind != kind or (
            request is not None and fingerprint(call.request) != fingerprint(request)
        ):
            if self._went_live:
                self._carry = None  # the code took another path after a live call
                return None
            raise ResumeMismatch(
                f"resuming step {self._step!r}: call #{n} is now {kind!r} with a different "
                f"request than the interrupted attempt logged ({call.kind!r}); the step's code "
                "is not deterministic, so it is not re-run blindly. Check the step, then "
                "`sgr fork` the run from it."
            )
        return call

    # ------------------------------------------------------------ effects

    def _recorded_call(self, n: int, kind: str, request: dict[str, Any] | None) -> RecordedCall:
        calls = self._recorded.calls if self._recorded else {}
        call = calls.get(n)
        if call is None:
            raise ReplayDivergenceError(
                self._step,
                f"no call #{n} (the recording made {len(calls)} in attempt {self._attempt})",
                {"kind": kind, "request": request},
                "the code makes a call the recorded run did not",
            )
        if call.kind != kind:
            raise ReplayDivergenceError(self._step, {"kind": call.kind}, {"kind": kind})
        if request is not None and fingerprint(call.request) != fingerprint(request):
            raise ReplayDivergenceError(
                self._step, call.request, request, f"call #{n} ({kind}) has a different request"
            )
        return call

    async def _effect(
        self,
        kind: str,
        request: dict[str, Any],
        live: Callable[[], Awaitable[dict[str, Any]]],
        *,
        side_effect: bool,
        key: str | None = None,
    ) -> dict[str, Any]:
        self._n += 1
        n = self._n
        key = key or f"{self.run_id}:{self._step}:{self._attempt}:{n}"
        if self._rt.replaying:
            call = self._recorded_call(n, kind, request)
            if call.result is None:
                raise ReplayDivergenceError(
                    self._step,
                    "a recorded result",
                    "none",
                    f"call #{n} never finished when recorded",
                )
            if not call.result.get("ok"):
                raise rebuild_error(FailureRecord.model_validate(call.result["failure"]))
            return dict(call.result["response"])
        base = {"attempt": self._attempt, "n": n, "kind": kind, "key": key}
        journal = self._rt.journal
        carried = self._carried(n, kind, request)
        if carried is not None:
            return self._serve_carried(carried, base, request)
        journal.append(
            RecordType.INTENT,
            {**base, "request": request, "fingerprint": fingerprint(request)},
            step=self._step,
            durable=side_effect,
        )
        crashpoint("effect_intent")  # intent durable, effect not started
        try:
            response = await live()
        except asyncio.CancelledError:
            self.in_doubt = self.in_doubt or side_effect
            raise
        except Exception as e:
            unknown = side_effect and isinstance(e, _UNKNOWN_OUTCOME)
            self.in_doubt = self.in_doubt or unknown
            failure = FailureRecord.from_exception(e, self._attempt).model_dump()
            journal.append(
                RecordType.RESULT,
                {**base, "ok": False, "failure": failure, "unknown": unknown},
                step=self._step,
            )
            raise
        crashpoint("effect_done")  # effect happened, result not yet recorded
        journal.append(
            RecordType.RESULT, {**base, "ok": True, "response": response}, step=self._step
        )
        crashpoint("effect_recorded")  # result written, the step not yet committed
        return response

    def _serve_carried(
        self, call: RecordedCall, base: dict[str, Any], request: dict[str, Any]
    ) -> dict[str, Any]:
        """Copy a finished call of the interrupted attempt into this one; do nothing again."""
        assert call.result is not None
        journal = self._rt.journal
        base = {**base, "key": call.key or base["key"], "carried": True}
        journal.append(
            RecordType.INTENT,
            {**base, "request": request, "fingerprint": fingerprint(request)},
            step=self._step,
        )
        result = {
            k: v for k, v in call.result.items() if k in ("ok", "response", "failure", "unknown")
        }
        journal.append(RecordType.RESULT, {**base, **result}, step=self._step)
        if not result.get("ok"):
            self.in_doubt = self.in_doubt or bool(result.get("unknown"))
            raise rebuild_error(FailureRecord.model_validate(result["failure"]))
        return dict(result["response"])
