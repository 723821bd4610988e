"""OTLP spans as server items.

- A span of kind SERVER is a ``server_request``: route from ``http.route`` (else the span name
  without its method: OpenTelemetry's HTTP span names are ``{method} {route}``, and never the raw
  path), method from ``http.request.method`` / ``http.method``, status from
  ``http.response.status_code`` / ``http.status_code`` (a server span without one, e.g. gRPC,
  gets 500 when its status is ERROR, else 200), ok unless the status is >= 500 or the span's
  status is ERROR, and the browser session from a captured ``X-WasmWatch-Session`` request
  header (``http.request.header.x-wasmwatch-session``).
- Any other span is a ``server_span``: kind ``query`` when it is a database call (a
  ``db.system`` / ``db.system.name`` or a statement), its statement from ``db.query.text`` /
  ``db.statement`` with literals replaced by ``?``; else kind ``span``. Its scalar attributes
  are its tags (16 at most; URLs and statements are not tags).
- An ``exception`` event of a span is an ``error`` item (kind, message and stack from the
  event's ``exception.*`` attributes, the operation being the span's name).

Ids: trace, span and parent span ids as they came (hex); item ids from the span id, so an
export retried is stored once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wasmwatch.client._statement import normalize
from wasmwatch.ingest.otlp import common as c
from wasmwatch.ingest.otlp import wire

SERVER = 2
ERROR = 2
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                      "PATCH", "QUERY"))

Item = dict[str, Any]


def items(request: wire.TracesRequest) -> Iterator[c.Mapped]:
    """(origin, where in the body, item or why not) for each span and exception event."""
    for r, resource_spans in enumerate(request.resource_spans):
        origin = c.origin(resource_spans.resource)
        for si, scope in enumerate(resource_spans.scope_spans):
            for i, span in enumerate(scope.spans):
                where = f"resourceSpans[{r}].scopeSpans[{si}].spans[{i}]"
                attrs = c.attributes(span.attributes)
                yield origin, where, c.attempt(span_item, span, attrs, origin.service)
                for e, event in enumerate(span.events):
                    if event.name == "exception":
                        yield origin, f"{where}.events[{e}]", exception(span, event, e)


def span_item(span: wire.Span, attrs: dict[str, Any], service: str | None) -> Item:
    base: Item = {"id": _span_item_id(span), "ts": c.ms(span.start_time_unix_nano),
                  "ms": c.ms(span.end_time_unix_nano - span.start_time_unix_nano),
                  "trace_id": c.trace_id(span.trace_id), "span_id": c.trace_id(span.span_id),
                  "parent_span_id": c.trace_id(span.parent_span_id), "service": service}
    if span.end_time_unix_nano < span.start_time_unix_nano:
        raise c.Refused("endTimeUnixNano: before startTimeUnixNano")
    failed = span.status.code == ERROR
    if span.kind == SERVER:
        return base | request_fields(span, attrs, failed)
    statement = c.text(attrs, "db.query.text", "db.statement")
    is_query = statement is not None or c.text(attrs, "db.system", "db.system.name") is not None
    return base | {"type": "server_span", "name": span.name or "span",
                   "kind": "query" if is_query else "span", "ok": not failed,
                   "statement": normalize(statement) if statement else None,
                   "tags": c.tags(attrs)}


def request_fields(span: wire.Span, attrs: dict[str, Any], failed: bool) -> Item:
    method = (c.text(attrs, "http.request.method", "http.method") or "_OTHER").upper()
    status = c.integer(attrs, "http.response.status_code", "http.status_code")
    if status is None:
        status = 500 if failed else 200
    return {"type": "server_request", "route": route(span.name, attrs), "method": method,
            "status": status, "ok": status < 500 and not failed,
            "session": c.text(attrs, "http.request.header.x-wasmwatch-session")}


def route(name: str, attrs: dict[str, Any]) -> str:
    """``http.route``, else the span name without a leading HTTP method."""
    template = c.text(attrs, "http.route")
    if template:
        return template
    first, _, rest = name.partition(" ")
    if first.upper() in _METHODS:
        return rest.strip() or "unknown"
    return name or "unknown"


def exception(span: wire.Span, event: wire.Event, index: int) -> Item:
    attrs = c.attributes(event.attributes)
    kind = c.text(attrs, "exception.type") or "Exception"
    return {"id": f"{_span_item_id(span)}.e{index}", "type": "error", "ts": c.ms(event.time_unix_nano),
            "kind": kind, "category": "application",
            "message": c.text(attrs, "exception.message") or "",
            "stack": c.text(attrs, "exception.stacktrace"), "operation": span.name or None}


def _span_item_id(span: wire.Span) -> str:
    if span.span_id and span.trace_id:
        return f"otlp.{span.trace_id.lower()}.{span.span_id.lower()}"[:64]
    return c.content_id("span", span.name, span.start_time_unix_nano, span.end_time_unix_nano,
                        span.trace_id, span.span_id)
