"""W3C trace context: parse an incoming ``traceparent``, make ids, and the current span.

The current span is a :class:`contextvars.ContextVar`, so it follows asyncio tasks and threads
the way the host app's own code does; spans and queries recorded inside a request link to it.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from random import getrandbits
from typing import NamedTuple

__all__ = ["HEADER", "SESSION_HEADER", "Span", "current", "new_span_id", "new_trace_id",
           "parse_traceparent"]

HEADER = "traceparent"
SESSION_HEADER = "x-wasmwatch-session"
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class Span(NamedTuple):
    """Where recorded work belongs: its trace and the span it runs under."""

    trace_id: str
    span_id: str


#: the span of the request (or custom span) being handled in this context, if any
current: ContextVar[Span | None] = ContextVar("wasmwatch_span", default=None)


def new_trace_id() -> str:
    return f"{getrandbits(128) or 1:032x}"


def new_span_id() -> str:
    return f"{getrandbits(64) or 1:016x}"


def parse_traceparent(value: str | None) -> Span | None:
    """(trace id, parent span id) of a valid ``traceparent`` header value, else None.

    Version ``ff`` and all-zero ids are invalid (W3C Trace Context, section 3.2)."""
    if not value:
        return None
    match = _TRACEPARENT.fullmatch(value.strip().lower()[:55])
    if match is None or match.group(1) == "ff":
        return None
    trace_id, span_id = match.group(2), match.group(3)
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return Span(trace_id, span_id)
