"""Plain ASGI request and response values: just what wasmwatch's handlers need."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from wasmwatch.errors import BadRequest, PayloadTooLarge, RequestTimeout
from wasmwatch.web.rsgi import header_pairs
from wasmwatch.web.types import Receive, Scope, Send

_json = msgspec.json.Encoder()


class Request:
    __slots__ = ("_query", "body_timeout_s", "headers", "method", "path", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive, body_timeout_s: float | None = None,
                 headers: dict[str, str] | None = None) -> None:
        """``headers`` as ``str`` already (RSGI gives them so), else decoded from the scope's."""
        self.scope = scope
        self.receive = receive
        self.body_timeout_s = body_timeout_s
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers = headers if headers is not None else {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self._query: dict[str, str] | None = None

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            raw = self.scope.get("query_string", b"")
            if isinstance(raw, bytes):  # ASGI's bytes; RSGI's str
                raw = raw.decode("latin-1")
            if "&" in raw or "%" in raw or "+" in raw or "=" not in raw:
                self._query = dict(parse_qsl(raw, keep_blank_values=True))
            else:  # one plain ``name=value`` (an ingest key): what parse_qsl gives, sooner
                name, _, value = raw.partition("=")
                self._query = {name: value}
        return self._query

    async def body(self, limit: int) -> bytes:
        """The body, refused with 413 as soon as it passes ``limit`` bytes, and with 408 when
        it has not arrived in full ``body_timeout_s`` after the first read (a stalled client)."""
        declared = self.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
        timeout = self.body_timeout_s
        if timeout is None:
            return await self._read(limit, [])
        # the timer cancels this task, and the cancel becomes a 408; one timer per event loop
        # checks every request's deadline (a timer each costs more than reading a small body)
        task = asyncio.current_task()
        assert task is not None
        sizes: list[int] = []
        expired: list[bool] = []
        deadlines = Deadlines.of(asyncio.get_running_loop())
        deadlines.add(task, timeout, expired)
        try:
            return await self._read(limit, sizes)
        except asyncio.CancelledError:
            if expired and task.uncancel() == 0:
                raise RequestTimeout(f"body not received within {timeout:g} s "
                                     f"({sum(sizes)} bytes arrived)") from None
            raise
        finally:
            deadlines.pending.pop(task, None)

    async def _read(self, limit: int, sizes: list[int]) -> bytes:
        message = await self.receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("client disconnected before sending the whole body")
        body: bytes = message.get("body", b"")
        if len(body) > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit")
        if not message.get("more_body", False):
            return body  # the whole body in one message: what granian and small bodies give
        chunks, size = [body], len(body)
        sizes.append(size)
        more = True
        while more:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise BadRequest("client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            sizes.append(len(chunk))
            if size > limit:
                raise PayloadTooLarge(f"body is over the {limit}-byte limit")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


class Deadlines:
    """The body deadlines of the requests reading on one event loop, checked by one timer every
    :attr:`SWEEP_S` seconds (or the shortest timeout, if shorter, down to 10 ms) while any is pending: a task
    past its deadline is marked expired and cancelled, so its 408 comes at most one sweep late.
    ``call_later`` and a cancel per request cost 3.2 µs on uvloop; this costs a dict entry."""

    SWEEP_S = 0.25
    _by_loop: dict[asyncio.AbstractEventLoop, Deadlines] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.period = self.SWEEP_S
        self.pending: dict[asyncio.Task[object], tuple[float, list[bool]]] = {}
        self.timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Deadlines:
        found = cls._by_loop.get(loop)
        if found is None:
            found = cls._by_loop[loop] = cls(loop)
        return found

    def add(self, task: asyncio.Task[object], timeout: float, expired: list[bool]) -> None:
        """Cancel ``task`` (after appending to ``expired``) if it is still here ``timeout``
        seconds from now; the reader pops it from :attr:`pending` when it is done."""
        self.pending[task] = (self.loop.time() + timeout, expired)
        if timeout < self.period:
            self.period = max(timeout, 0.01)
        if self.timer is None:
            self.timer = self.loop.call_later(self.period, self.sweep)

    def sweep(self) -> None:
        now = self.loop.time()
        for task, (deadline, expired) in list(self.pending.items()):
            if deadline <= now:
                del self.pending[task]
                expired.append(True)
                task.cancel()
        if self.pending:
            self.timer = self.loop.call_later(self.period, self.sweep)
        else:  # nothing reading: no timer, and the loop is not held here
            self.timer = None
            self._by_loop.pop(self.loop, None)


def gunzip(data: bytes, limit: int) -> bytes:
    """Inflate a gzip body, refusing output past ``limit`` bytes (so a gzip bomb stops early)."""
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"body is not valid gzip: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"body inflates to over the {limit}-byte limit")
    if not inflater.eof:
        raise BadRequest("body is not valid gzip: truncated stream")
    return out


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(
        self, body: bytes = b"", status: int = 200, headers: Mapping[str, str] | None = None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> None:
        self.body = body
        self.status = status
        self.headers = {"content-type": content_type, **(headers or {})}

    async def __call__(self, send: Send, extra: Mapping[str, str] = {}) -> None:
        headers = encode_headers({**self.headers, **extra}) if extra else encode_headers(self.headers)
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})

    async def rsgi(self, proto: Any, extra: Mapping[str, str] = {}) -> None:
        """Send this response through granian's RSGI protocol (:mod:`wasmwatch.web.rsgi`)."""
        proto.response_bytes(self.status, header_pairs(self.headers, extra), self.body)


#: header (name, value) pairs as ASGI bytes, for the ones that repeat (types, CORS, origins)
_ENCODED: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_ENCODED_MAX = 1024


def encode_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """Headers as the ASGI ``(name, value)`` byte pairs (``content-length`` not among them)."""
    out = []
    for pair in headers.items():
        encoded = _ENCODED.get(pair)
        if encoded is None:
            encoded = (pair[0].encode(), pair[1].encode())
            if len(_ENCODED) < _ENCODED_MAX:
                _ENCODED[pair] = encoded
        out.append(encoded)
    return out


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(_json.encode(data), status, headers, "application/json")


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


class StreamResponse(Response):
    """A response whose body comes from an async iterator (server-sent events)."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: AsyncIterator[bytes], content_type: str) -> None:
        super().__init__(b"", 200, {"cache-control": "no-cache", "x-accel-buffering": "no"},
                         content_type)
        self.chunks = chunks

    async def __call__(self, send: Send, extra: Mapping[str, str] = {}) -> None:
        await send({"type": "http.response.start", "status": self.status,
                    "headers": encode_headers({**self.headers, **extra})})
        async for chunk in self.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def rsgi(self, proto: Any, extra: Mapping[str, str] = {}) -> None:
        """Send each chunk as it is made; a client gone (granian raises on the send) ends the
        stream as answered, and its iterator is closed (a live subscription let go)."""
        transport = proto.response_stream(self.status, header_pairs(self.headers, extra))
        chunks = self.chunks
        try:
            async for chunk in chunks:
                try:
                    await transport.send_bytes(chunk)
                except Exception:  # granian's ProtocolClosed and the like
                    return
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
