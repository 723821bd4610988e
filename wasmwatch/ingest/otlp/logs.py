"""OTLP log records: those of severity ERROR or above are ``error`` items; the rest are not
stored (wasmwatch keeps errors, not a log archive) and the answer says how many were left out.

A record is ERROR or above by ``severityNumber`` >= 17, or, when the number is unset, by a
``severityText`` of ERROR, FATAL, CRITICAL, ALERT or EMERGENCY. The error's kind is the
``exception.type`` attribute (else the severity text, else ``log``), its message
``exception.message`` or the body (a non-string body as JSON), its stack
``exception.stacktrace``, its category ``critical`` for FATAL (21 and above), else
``application``. Its time is ``timeUnixNano``, else ``observedTimeUnixNano``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from wasmwatch.ingest.otlp import common as c
from wasmwatch.ingest.otlp import wire

ERROR = 17
FATAL = 21
_ERROR_TEXTS = frozenset(("ERROR", "FATAL", "CRITICAL", "ALERT", "EMERGENCY", "SEVERE"))
_json = msgspec.json.Encoder(order="sorted")


def is_error(record: wire.LogRecord) -> bool:
    if record.severity_number:
        return record.severity_number >= ERROR
    return record.severity_text.strip().upper().rstrip("0123456789") in _ERROR_TEXTS


def items(request: wire.LogsRequest) -> Iterator[c.Mapped]:
    """(origin, where in the body, item or why not) per record of severity ERROR or above."""
    for r, resource_logs in enumerate(request.resource_logs):
        origin = c.origin(resource_logs.resource)
        for si, scope in enumerate(resource_logs.scope_logs):
            for i, record in enumerate(scope.log_records):
                if is_error(record):
                    where = f"resourceLogs[{r}].scopeLogs[{si}].logRecords[{i}]"
                    yield origin, where, c.attempt(error, record, origin.service)


def count(request: wire.LogsRequest) -> int:
    return sum(len(scope.log_records) for resource_logs in request.resource_logs
               for scope in resource_logs.scope_logs)


def error(record: wire.LogRecord, service: str | None) -> dict[str, Any]:
    attrs = c.attributes(record.attributes)
    time_ns = record.time_unix_nano or record.observed_time_unix_nano
    message = c.text(attrs, "exception.message") or _body_text(record.body)
    fatal = record.severity_number >= FATAL or record.severity_text.strip().upper() == "FATAL"
    return {"id": c.content_id("log", service, time_ns, record.trace_id, record.span_id, message),
            "type": "error", "ts": c.ms(time_ns),
            "kind": c.text(attrs, "exception.type") or record.severity_text.strip() or "log",
            "category": "critical" if fatal else "application", "message": message,
            "stack": c.text(attrs, "exception.stacktrace")}


def _body_text(body: wire.AnyValue | None) -> str:
    value = c.value_of(body)
    if value is None:
        return ""
    return value if isinstance(value, str) else _json.encode(value).decode()
