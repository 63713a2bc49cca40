"""RunContext: the only door from a step to time, randomness, ids, models, sandbox, HTTP and
remote jobs (docs/architecture.md).

Live, every answer is recorded: a ``value`` record for time/random/ids; an ``intent`` before
and a ``result`` after every call (the intent fsynced first when the call has side effects).
Replaying, answers come from the recording and each request is checked against it; the first
mismatch raises :class:`ReplayDivergenceError`. Calls are numbered per attempt, so concurrent
steps replay independently of scheduling order.

Resuming, an attempt cut short by a crash is *continued*: the calls it finished (``carry``)
are served from the log and copied into the new attempt's records (marked ``carried``), so an
effect whose result is logged is never done twice; the first call it did not finish, and every
call after, is made live.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sgr_kernel.engine._calls import CallLog, rebuild_error
from sgr_kernel.errors import (
    CapabilityDenied,
    LLMError,
    StepContractError,
    StepError,
)
from sgr_kernel.llm.base import LLMRequest, LLMResponse, Message
from sgr_kernel.models.remote import RemoteJobSpec
from sgr_kernel.sandbox.base import ExecResult
from sgr_kernel.skills.base import CAP_LLM, CAP_NETWORK, CAP_REMOTE, CAP_SANDBOX, HttpResponse
from sgr_kernel.trace.base import ArtifactRef, RecordType

__all__ = ["RunContext", "rebuild_error"]

M = TypeVar("M", bound=BaseModel)

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key"})


class RunContext(CallLog):
    """The context one attempt of one step runs with. Implements ``SkillContext``.

    Identity and the recording of every call come from :class:`CallLog`; this class holds the
    doors: time, randomness and ids, models, the sandbox, HTTP, remote jobs, artifacts, events.
    """

    __slots__ = ()

    # ------------------------------------------------------------ values

    def now(self) -> float:
        return float(self._value("now", self._rt.services.clock.now))

    def random(self) -> float:
        return float(self._value("random", self._rt.services.entropy.random))

    def new_id(self) -> str:
        return str(self._value("id", self._rt.services.entropy.new_id))

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
