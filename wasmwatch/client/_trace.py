"""W3C trace context: parse an incoming ``traceparent``, make ids, and the current span.

The current span is a :class:`contextvars.ContextVar`, so it follows asyncio tasks and threads
the way the host app's own code does; spans and queries recorded inside a request link to it.
A request's span is a :class:`RequestSpan`: the middleware makes it from random bits and the
raw headers, and the ids are worked out only when first read (by a span inside the request,
or by the sender thread), so the request path never parses or formats anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextvars import ContextVar
from random import getrandbits
from typing import NamedTuple, Protocol

__all__ = ["HEADER", "SESSION_HEADER", "RequestSpan", "Span", "Traced", "current",
           "new_span_id", "new_trace_id", "parse_traceparent"]

HEADER = "traceparent"
SESSION_HEADER = "x-wasmwatch-session"
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_LOW64 = (1 << 64) - 1
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?", re.S)


class Span(NamedTuple):
    """Where recorded work belongs: its trace and the span it runs under."""

    trace_id: str
    span_id: str


class Traced(Protocol):
    """What the current span offers: a :class:`Span` or a :class:`RequestSpan`."""

    @property
    def trace_id(self) -> str: ...

    @property
    def span_id(self) -> str: ...


#: the span of the request (or custom span) being handled in this context, if any
current: ContextVar[Traced | None] = ContextVar("wasmwatch_span", default=None)


def new_trace_id() -> str:
    return "%032x" % (getrandbits(128) or 1)


def new_span_id() -> str:
    return "%016x" % (getrandbits(64) or 1)


def parse_traceparent(value: str | None) -> Span | None:
    """(trace id, parent span id) of a valid ``traceparent`` header value, else None.

    Lowercase hex only; version ``ff`` and all-zero ids are invalid (W3C Trace Context 3.2).
    A later version may append fields after the flags (``-...``); they are ignored."""
    ids = _parse(value)
    return Span(*ids) if ids else None


def _parse(value: str | None) -> tuple[str, str] | None:
    """:func:`parse_traceparent`, as a plain tuple (a NamedTuple costs more to make)."""
    match = _TRACEPARENT.fullmatch(value) if value else None
    if match is None:
        return None
    version, trace_id, span_id, rest = match.groups()
    if version == "ff" or (rest is not None and version == "00"):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id


_UNREAD = ("", "")


class RequestSpan:
    """A handled request's span, made on the request path from 192 random bits and what the
    request carried: the raw ASGI header list, or the ``traceparent`` value and the session.

    Its trace is the caller's (a valid ``traceparent``) or new (the high 128 bits); its span id
    is the low 64 bits. Reading an id works them out once; two threads reading at once work
    out the same values, so no lock is needed."""

    __slots__ = ("_bits", "_parent", "_session", "_source")

    def __init__(self, bits: int, source: Sequence[tuple[bytes, bytes]] | str | None,
                 session: str | None = None) -> None:
        self._bits, self._source, self._session = bits, source, session
        self._parent: tuple[str, str] | None = _UNREAD

    def _read(self) -> tuple[str, str] | None:
        """The caller's (trace id, span id), if it sent a valid ``traceparent``."""
        parent = self._parent
        if parent is not _UNREAD:
            return parent
        source = self._source
        value: str | None = None
        if isinstance(source, str):
            value = source
        elif source is not None:
            for key, raw in source:
                if key == b"traceparent":
                    value = raw.decode("latin-1")
                elif key == b"x-wasmwatch-session":
                    self._session = raw.decode("latin-1")
        parent = self._parent = _parse(value)
        return parent

    @property
    def trace_id(self) -> str:
        parent = self._read()
        return parent[0] if parent else "%032x" % ((self._bits >> 64) or 1)

    @property
    def span_id(self) -> str:
        return "%016x" % ((self._bits & _LOW64) or 1)

    @property
    def parent_span_id(self) -> str | None:
        parent = self._read()
        return parent[1] if parent else None

    @property
    def session(self) -> str | None:
        self._read()
        return self._session

    def ids(self) -> tuple[str, str, str | None, str | None]:
        """(trace id, span id, parent span id, session), read once: what the item carries."""
        parent = self._read()
        low = "%016x" % ((self._bits & _LOW64) or 1)
        if parent is None:
            return "%032x" % ((self._bits >> 64) or 1), low, None, self._session
        return parent[0], low, parent[1], self._session
