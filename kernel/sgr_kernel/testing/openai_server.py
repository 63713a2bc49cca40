"""A real OpenAI-compatible HTTP server on loopback, for tests and benchmarks.

It speaks enough of the chat-completions API for a provider to talk to it over real HTTP:
``GET /v1/models`` and ``POST /v1/chat/completions`` (plain and streamed as server-sent
events). Replies are scripted with :class:`Reply`; failures (429 with ``Retry-After``, 500,
malformed JSON, a stream cut short, schema-violating content, a server without JSON-schema
support) are scripted the same way. Every request is recorded in :attr:`OpenAITestServer.requests`.

Example::

    with OpenAITestServer([Reply.json({"x": 1}), Reply.error(429, retry_after="2")]) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="k")
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sgr_kernel.llm.structured import PROBE_NAME, PROBE_VALUE

__all__ = ["OpenAITestServer", "RecordedRequest", "Reply", "request_mode"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer of the server. Build it with the class methods."""

    kind: str
    content: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    usage: tuple[int, int] | None = None
    delay_s: float = 0.0
    piece_delay_s: float = 0.0

    @classmethod
    def trickle(cls, content: str, piece_delay_s: float) -> Reply:
        """A completion that, streamed, sends one word every ``piece_delay_s`` seconds (a
        model generating slowly); unstreamed it is sent whole after all those delays."""
        return cls("ok", content=content, piece_delay_s=piece_delay_s)

    @classmethod
    def slow(cls, content: str, delay_s: float) -> Reply:
        """A normal completion sent only after ``delay_s`` seconds (for client timeouts)."""
        return cls("ok", content=content, delay_s=delay_s)

    @classmethod
    def text(cls, content: str, *, usage: tuple[int, int] | None = None) -> Reply:
        """A normal completion whose message content is ``content``."""
        return cls("ok", content=content, usage=usage)

    @classmethod
    def json(cls, value: Any, *, usage: tuple[int, int] | None = None) -> Reply:
        """A normal completion whose content is ``value`` as JSON text."""
        return cls("ok", content=json.dumps(value), usage=usage)

    @classmethod
    def error(
        cls, status: int, message: str = "scripted error", *, retry_after: str | None = None
    ) -> Reply:
        """An HTTP error with an OpenAI-style error body (and ``Retry-After`` when given)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = json.dumps({"error": {"message": message, "type": "scripted", "code": status}})
        return cls("error", status=status, headers=headers, body=body)

    @classmethod
    def malformed(cls) -> Reply:
        """HTTP 200 whose body is not JSON."""
        return cls("raw", body='{"id": "chatcmpl-x", "choices": [ {broken')

    @classmethod
    def truncated_stream(cls, content: str = "partial answer") -> Reply:
        """A stream that sends some content and then closes without finishing."""
        return cls("truncated", content=content)


@dataclass(frozen=True)
class RecordedRequest:
    """What the server received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: dict[str, Any] | None


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus delayed
        # ACKs add ~40 ms per reply, as real servers (uvicorn, llama.cpp) avoid.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr noise
        return

    def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        key = self.server.owner.api_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._send(401, json.dumps({"error": {"message": "Incorrect API key provided"}}))
        return False

    def do_GET(self) -> None:
        self.server.owner._record("GET", self.path, dict(self.headers), None)
        if not self._authorised():
            return
        if self.path.rstrip("/") == "/v1/models":
            data = [
                {"id": m, "object": "model", "owned_by": "test"} for m in self.server.owner.models
            ]
            self._send(200, json.dumps({"object": "list", "data": data}))
        else:
            self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = None
        owner = self.server.owner
        owner._record("POST", self.path, dict(self.headers), body)
        if not self._authorised():
            return
        if self.path.rstrip("/") != "/v1/chat/completions" or not isinstance(body, dict):
            self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))
            return
        model = body.get("model")
        if model not in owner.models:
            msg = f"The model `{model}` does not exist"
            self._send(404, json.dumps({"error": {"message": msg, "code": "model_not_found"}}))
            return
        rf = body.get("response_format") or {}
        if rf.get("type") == "json_schema" and not owner.supports_json_schema:
            msg = "response_format json_schema is not supported by this server"
            self._send(400, json.dumps({"error": {"message": msg, "param": "response_format"}}))
            return
        reply = owner._probe_reply(body) if _is_probe(body) else owner._next_reply(body)
        if reply.delay_s:
            owner._stopping.wait(reply.delay_s)
        if reply.piece_delay_s and not body.get("stream"):
            owner._stopping.wait(reply.piece_delay_s * len(reply.content.split(" ")))
        if reply.kind == "error":
            self._send(reply.status, reply.body, reply.headers)
        elif reply.kind == "raw":
            self._send(200, reply.body)
        elif body.get("stream"):
            self._stream(body, reply)
        else:
            self._send(200, json.dumps(self._completion(body, reply)))

    def _usage(self, body: dict[str, Any], reply: Reply) -> dict[str, int]:
        if reply.usage is not None:
            p, c = reply.usage
        else:
            msgs = body.get("messages") or []
            p = sum(_tokens(str(m.get("content", ""))) for m in msgs)
            c = _tokens(reply.content)
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if _forced_tool(body):
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [_tool_call(body, reply)],
            }
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if _forced_tool(body) else "stop",
                }
            ],
            "usage": self._usage(body, reply),
        }

    def _event(self, payload: dict[str, Any] | str) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.wfile.write(f"data: {text}\n\n".encode())
        self.wfile.flush()

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")  # the end of the body is the end of the stream
        self.end_headers()
        self.close_connection = True
        base = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0}
        base["model"] = body["model"]
        words = reply.content.split(" ")
        pieces = [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)]
        if reply.kind == "truncated":
            pieces = pieces[: max(1, len(pieces) // 2)]
        tool = _forced_tool(body)
        for i, piece in enumerate(pieces):
            content: dict[str, Any] = {"content": piece}
            if tool:
                call = _tool_call(body, Reply("ok", content=piece))
                if i:
                    call = {"index": 0, "function": {"arguments": piece}}
                content = {"tool_calls": [{"index": 0, **call}]}
            delta = {"index": 0, "delta": content, "finish_reason": None}
            self._event({**base, "choices": [delta]})
            if reply.piece_delay_s and self.server.owner._stopping.wait(reply.piece_delay_s):
                return  # the server is stopping
        if reply.kind == "truncated":
            return  # no finish_reason, no [DONE]: the connection just closes
        self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            self._event({**base, "choices": [], "usage": self._usage(body, reply)})
        self._event("[DONE]")


def _is_probe(body: dict[str, Any]) -> bool:
    return PROBE_NAME in json.dumps(body) or PROBE_VALUE in json.dumps(body)


def request_mode(body: dict[str, Any]) -> str:
    """Which structured-output mode a chat request asks for (``structured.MODES``)."""
    if _forced_tool(body):
        return "tool_call"
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        return "json_schema"
    if rf.get("type") == "json_object":
        return "json_object_schema" if "schema" in rf else "json_object"
    return "prompt"


def _forced_tool(body: dict[str, Any]) -> bool:
    return bool(body.get("tools")) and isinstance(body.get("tool_choice"), dict)


def _tool_call(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    name = body["tool_choice"]["function"]["name"]
    fn = {"name": name, "arguments": reply.content}
    return {"id": "call_test", "type": "function", "function": fn}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: OpenAITestServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or hung up mid-reply is a scripted scenario, not news.
        return


class OpenAITestServer:
    """A loopback OpenAI-compatible server serving scripted replies in order.

    Args:
        replies: Served in order, one per chat-completion request.
        models: Model ids it knows (``GET /v1/models``; others get 404 model_not_found).
        api_key: When set, requests without ``Bearer <api_key>`` get 401.
        supports_json_schema: When false, ``response_format`` of type ``json_schema`` gets
            400, like servers that only know JSON mode.
        enforces: The structured-output modes whose capability probe it answers as a
            constraining server would (``sgr_kernel.llm.structured``); for the others it
            answers the probe with plain text, like a server that ignores the field. Probe
            requests never consume the script and are left out of :attr:`chat_requests`.
        probe: Answers probes instead (a recorded server's replies, by request body).
        default: Served when the script is exhausted (else 500 "script exhausted").
        record: Keep every request in :attr:`requests` (turn off for benchmarks).
    """

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        models: Iterable[str] = ("test-model",),
        api_key: str | None = None,
        supports_json_schema: bool = True,
        enforces: Iterable[str] = ("json_schema", "json_object_schema", "tool_call"),
        probe: Callable[[dict[str, Any]], Reply] | None = None,
        default: Reply | Callable[[dict[str, Any]], Reply] | None = None,
        record: bool = True,
    ) -> None:
        self._replies = list(replies)
        self.models = list(models)
        self.api_key = api_key
        self.supports_json_schema = supports_json_schema
        self.enforces = set(enforces)
        self.probe = probe
        self.default = default
        self.record = record
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _record(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        if self.record:
            lowered = {k.lower(): v for k, v in headers.items()}  # HTTP names are case-blind
            with self._lock:
                self.requests.append(RecordedRequest(method, path, lowered, body))

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.pop(0)
        if callable(self.default):
            return self.default(body)
        return self.default or Reply.error(500, "test server: script exhausted")

    def _probe_reply(self, body: dict[str, Any]) -> Reply:
        if self.probe is not None:
            return self.probe(body)
        if request_mode(body) in self.enforces:
            return Reply.json({"probe": PROBE_VALUE})
        return Reply.text("Hello! How can I help you today?")

    def add(self, *replies: Reply) -> None:
        """Append replies to the script."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of chat-completion requests, in order."""
        return [
            r.body
            for r in self.requests
            if r.path.endswith("/chat/completions") and r.body and not _is_probe(r.body)
        ]

    @property
    def probe_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of structured-output capability probes, in order."""
        return [r.body for r in self.requests if r.body and _is_probe(r.body)]

    @property
    def port(self) -> int:
        assert self._server is not None, "the server is not started"
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no ``/v1``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, what an OpenAI client wants."""
        return self.root_url + "/v1"

    def start(self) -> OpenAITestServer:
        """Bind an ephemeral loopback port and serve in a daemon thread."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="openai-test-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAITestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
