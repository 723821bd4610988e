"""W3C trace context: parse an incoming ``traceparent``, make ids, and the current span.

The current span is a :class:`contextvars.ContextVar`, so it follows asyncio tasks and threads
the way the host app's own code does; spans and queries recorded inside a request link to it.
"""

from __future__ import annotations

from contextvars import ContextVar
from random import getrandbits
from typing import NamedTuple

__all__ = ["HEADER", "SESSION_HEADER", "Span", "current", "new_span_id", "new_trace_id",
           "parse_traceparent"]

HEADER = "traceparent"
SESSION_HEADER = "x-wasmwatch-session"
_HEX = frozenset("0123456789abcdef")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class Span(NamedTuple):
    """Where recorded work belongs: its trace and the span it runs under."""

    trace_id: str
    span_id: str


#: the span of the request (or custom span) being handled in this context, if any
current: ContextVar[Span | None] = ContextVar("wasmwatch_span", default=None)


def new_trace_id() -> str:
    return "%032x" % (getrandbits(128) or 1)


def new_span_id() -> str:
    return "%016x" % (getrandbits(64) or 1)


def parse_traceparent(value: str | None) -> Span | None:
    """(trace id, parent span id) of a valid ``traceparent`` header value, else None.

    Lowercase hex only; version ``ff`` and all-zero ids are invalid (W3C Trace Context 3.2).
    A later version may append fields after the flags (``-...``); they are ignored."""
    if not value or len(value) < 55 or value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    if len(value) > 55 and (value[:2] == "00" or value[55] != "-"):
        return None
    hexes = _HEX.issuperset
    trace_id, span_id = value[3:35], value[36:52]
    if not (hexes(value[:2]) and hexes(trace_id) and hexes(span_id) and hexes(value[53:55])):
        return None
    if value[:2] == "ff" or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return Span(trace_id, span_id)
