"""granian's own interface (RSGI) in front of the ASGI app, for ``wasmwatch serve``.

The app stays plain ASGI (tests drive it with ``httpx.ASGITransport``); under granian it is
served through RSGI instead, which skips ASGI's per-request message dicts and byte-encoded
header lists and granian's ASGI glue: the bare app costs ~31 instead of ~57-69 µs of server
CPU per small request on this machine (bench/RESULTS.md, branch ``single8``). What the
handlers see is the same :class:`~wasmwatch.web.http.Request`: an ASGI-shaped scope, the
headers as a ``str`` dict, and a ``receive`` that yields the body as ASGI messages (a chunk
at a time, so the body limit still stops a large body early).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from wasmwatch.web.types import Message, Scope


def scope_of(rsgi: Any) -> Scope:
    """The ASGI-shaped scope of an RSGI scope (what :class:`Request` and the address code read)."""
    host, _, port = rsgi.client.rpartition(":")
    return {"type": "http", "method": rsgi.method, "path": rsgi.path,
            "query_string": rsgi.query_string, "scheme": rsgi.scheme,
            "http_version": rsgi.http_version,
            "client": (host.strip("[]"), int(port) if port.isdigit() else 0)}


class Receiver:
    """ASGI ``receive`` over an RSGI protocol: with ``whole`` (a declared length, which
    :meth:`Request.body` checks against the limit before the first read) the body in one
    message, else chunk by chunk and a last empty message; a client gone before the end is
    ``http.disconnect``."""

    __slots__ = ("_chunks", "_done", "_proto", "_whole")

    def __init__(self, proto: Any, whole: bool) -> None:
        self._proto = proto
        self._whole = whole
        self._chunks: AsyncIterator[bytes] | None = None
        self._done = False

    async def __call__(self) -> Message:
        if self._done:
            return {"type": "http.disconnect"}
        if self._whole:
            self._done = True
            try:
                body = await self._proto()
            except Exception:  # granian's ProtocolClosed and the like: the client went away
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        if self._chunks is None:
            self._chunks = self._proto.__aiter__()
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        except Exception:  # granian's ProtocolClosed and the like: the client went away
            self._done = True
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": bytes(chunk), "more_body": True}


def header_pairs(headers: Mapping[str, str], extra: Mapping[str, str]) -> list[tuple[str, str]]:
    """The response headers as RSGI's ``(name, value)`` str pairs, ``extra`` winning (as in
    :meth:`Response.__call__`); granian adds ``content-length``."""
    if not extra:
        return list(headers.items())
    return [pair for pair in headers.items() if pair[0] not in extra] + list(extra.items())
