"""RunContext: the only door from a step to time, randomness, ids, models, sandbox, HTTP and
remote jobs (docs/architecture.md).

Live, every answer is recorded: a ``value`` record for time/random/ids; an ``intent`` before
and a ``result`` after every call (the intent fsynced first when the call has side effects).
Replaying, answers come from the recording and each request is checked against it; the first
mismatch raises :class:`ReplayDivergenceError`. Calls are numbered per attempt, so concurrent
steps replay independently of scheduling order.

Resuming, an attempt cut short by a crash is *continued*: the calls it finished (``carry``)
are served from the log and copied into the new attempt's records (marked ``carried``), so an
effect whose result is logged is never done twice; a call it did not finish is made live.
Calls started together (remote jobs gathered at once) finish in any order, so a finished call
after an unfinished one is still served when it is exactly the same call (kind and request);
once the code asks for anything else, every call from there on is live.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sgr_kernel import errors
from sgr_kernel.engine.runtime import RunRuntime, fingerprint
from sgr_kernel.errors import (
    CapabilityDenied,
    LLMConnectionError,
    LLMError,
    LLMTimeout,
    ReplayDivergenceError,
    ResumeMismatch,
    SkillFailed,
    StepContractError,
    StepError,
    StepTimeout,
)
from sgr_kernel.llm.base import LLMRequest, LLMResponse, Message
from sgr_kernel.models.failure import FailureRecord
from sgr_kernel.models.remote import RemoteJobSpec
from sgr_kernel.sandbox.base import ExecResult
from sgr_kernel.skills.base import CAP_LLM, CAP_NETWORK, CAP_REMOTE, CAP_SANDBOX, HttpResponse
from sgr_kernel.trace._crash import crashpoint
from sgr_kernel.trace.base import ArtifactRef, RecordType
from sgr_kernel.trace.recorded import RecordedAttempt
from sgr_kernel.trace.state import RecordedCall

__all__ = ["RunContext", "rebuild_error"]

M = TypeVar("M", bound=BaseModel)

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key"})
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


class RunContext:
    """The context one attempt of one step runs with. Implements ``SkillContext``."""

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

    # ------------------------------------------------------------ values

    def now(self) -> float:
        return float(self._value("now", self._rt.services.clock.now))

    def random(self) -> float:
        return float(self._value("random", self._rt.services.entropy.random))

    def new_id(self) -> str:
        return str(self._value("id", self._rt.services.entropy.new_id))

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

    def _require(self, capability: str) -> None:
        if capability not in self._caps:
            raise CapabilityDenied(
                f"step {self._step!r} has no {capability!r} capability; grant it in the plan "
                f"(`capabilities: [{capability}]` on the step)"
            )

    async def llm(self, request: LLMRequest) -> LLMResponse:
        self._require(CAP_LLM)
        rt = self._rt
        rt.budget.check_llm_call()

        async def live() -> dict[str, Any]:
            client = rt.services.llm
            if client is None:
                raise LLMError("no LLM provider is configured (set SGR_PROVIDER)")
            breaker = rt.reliability.breaker(f"llm:{client.name}")
            breaker.before_call()
            rt.live_calls += 1
            t0 = rt.services.clock.monotonic()
            try:
                resp = await client.complete(
                    request, on_token=lambda t: rt.emit(self._step, "token", {"text": t})
                )
            except LLMError as e:
                if e.retryable:
                    breaker.record_failure()
                raise
            breaker.record_success()
            latency = rt.services.clock.monotonic() - t0
            return resp.model_copy(update={"latency_s": latency}).model_dump(mode="json")

        data = await self._effect("llm", request.model_dump(mode="json"), live, side_effect=False)
        resp = LLMResponse.model_validate(data)
        usage = {
            "tokens": resp.usage.total_tokens,
            "cost_usd": resp.usage.cost_usd,
            "llm_calls": 1,
        }
        rt.journal.append(RecordType.USAGE, usage, step=self._step)
        return resp

    async def generate(
        self, output: type[M], messages: Sequence[Message], *, max_repairs: int = 2
    ) -> M:
        from sgr_kernel.llm.schema_guided import generate

        result = await generate(self.llm, output, list(messages), max_repairs=max_repairs)
        return result.value

    async def sandbox(self, code: str, *, timeout_s: float | None = None) -> ExecResult:
        self._require(CAP_SANDBOX)
        rt = self._rt

        async def live() -> dict[str, Any]:
            rt.live_calls += 1
            session = await rt.sandbox_session()
            result = await session.execute(code, timeout_s=timeout_s)
            if result.stdout:
                rt.emit(self._step, "stdout", {"text": result.stdout[-4000:]})
            return result.model_dump(mode="json")

        request = {"code": code, "timeout_s": timeout_s}
        data = await self._effect("sandbox", request, live, side_effect=True)
        return ExecResult.model_validate(data)

    async def http(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: str | None = None,
        timeout_s: float = 30.0,
    ) -> HttpResponse:
        self._require(CAP_NETWORK)
        rt = self._rt
        headers = dict(headers or {})
        shown = {k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}
        request = {"method": method.upper(), "url": url, "headers": shown, "body": body}

        async def live() -> dict[str, Any]:
            transport = rt.services.http
            if transport is None:
                raise CapabilityDenied("no HTTP transport is configured for this kernel")
            rt.live_calls += 1
            resp = await transport(method.upper(), url, headers, body, timeout_s)
            return resp.model_dump(mode="json")

        safe = method.upper() in ("GET", "HEAD", "OPTIONS")
        data = await self._effect("http", request, live, side_effect=not safe)
        return HttpResponse.model_validate(data)

    async def remote(
        self,
        job_type: str,
        params: dict[str, Any],
        *,
        resources: dict[str, float | int | str] | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """A job through the dispatcher. Its progress is emitted live (``progress`` events) and
        logged at most every 0.5 s per job; its artifact files come back stored
        by content under ``artifacts``; once the result is in the log the backend may forget
        the job."""
        import mimetypes

        from sgr_kernel.dispatch.base import ARTIFACTS, ObservableDispatcher, Progress

        self._require(CAP_REMOTE)
        rt = self._rt
        # The key leaves out the attempt, so a re-run after a crash re-attaches to the same job.
        key = f"{self.run_id}:{self._step}:{self._n + 1}"
        try:
            spec = RemoteJobSpec(
                job_type=job_type,
                params=params,
                resources=resources or {},
                timeout_s=timeout_s,
                idempotency_key=key,
            )
        except ValidationError as e:  # refused before anything is submitted; never retried
            raise StepContractError(f"remote job {job_type!r}: {e}") from None
        loop = asyncio.get_running_loop()
        logged = [float("-inf")]
        held: list[tuple[ObservableDispatcher, Any]] = []

        def on_progress(p: Progress) -> None:  # on the run's loop
            if not held:
                return  # the step is over; a late report is dropped
            data = {"kind": "progress", **p.model_dump(mode="json")}
            now = rt.services.clock.monotonic()
            if now - logged[0] >= 0.5 or (p.fraction or 0) >= 1:  # a bounded WAL rate
                logged[0] = now
                rt.journal.append(RecordType.EVENT, data, step=self._step)
            else:
                rt.emit(self._step, "progress", data)

        async def live() -> dict[str, Any]:
            dispatcher = rt.services.dispatcher
            if dispatcher is None:
                raise CapabilityDenied("no dispatcher is configured for remote jobs")
            breaker = rt.reliability.breaker(f"dispatch:{dispatcher.name}")
            breaker.before_call()
            rt.live_calls += 1
            handle = await dispatcher.submit(spec)
            if isinstance(dispatcher, ObservableDispatcher):
                held.append((dispatcher, handle))

                def to_loop(p: Progress) -> None:
                    loop.call_soon_threadsafe(on_progress, p)

                dispatcher.watch(handle, to_loop)
            try:
                result = await dispatcher.result(handle, timeout_s=timeout_s)
            except StepError as e:
                if e.retryable:
                    breaker.record_failure()
                raise
            breaker.record_success()
            files = result.pop(ARTIFACTS, None)
            if isinstance(files, dict):
                result[ARTIFACTS] = [
                    self.put_artifact(
                        bytes(data),
                        name=name,
                        media_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
                    ).model_dump(mode="json")
                    for name, data in sorted(files.items())
                ]
            return result

        try:
            return await self._effect(
                "remote", spec.model_dump(mode="json"), live, side_effect=True, key=key
            )
        finally:
            if held:
                dispatcher, handle = held.pop()
                await dispatcher.release(handle)

    # ------------------------------------------------------------ artifacts and events

    def put_artifact(
        self, data: bytes, *, name: str, media_type: str = "application/octet-stream"
    ) -> ArtifactRef:
        store = self._rt.services.store
        if self._rt.replaying or store is None:
            sha = hashlib.sha256(data).hexdigest()
            return ArtifactRef(sha256=sha, size=len(data), name=name, media_type=media_type)
        return store.put_artifact(self.run_id, data, name=name, media_type=media_type)

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self._rt.emit(self._step, kind, data)
