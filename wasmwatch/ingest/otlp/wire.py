"""OTLP/HTTP request bodies as typed values: the OTLP JSON mapping, and protobuf.

JSON follows the OTLP JSON mapping: lowerCamelCase field names, trace and span ids as hex,
64-bit integers as decimal strings (plain numbers are taken too), enums as integers; unknown
fields are ignored, as the OTLP specification asks of receivers. Protobuf
(``application/x-protobuf``, what ``opentelemetry-exporter-otlp-proto-http`` sends) is read
into the same types by :mod:`.proto`, so both give one typed value, or one
:class:`WireError` naming the problem.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from wasmwatch.ingest.validate import path_error

__all__ = ["MESSAGE_NAMES", "LogsRequest", "MetricsRequest", "Signal", "TracesRequest", "WireError",
           "decode_json"]

Signal = Literal["traces", "metrics", "logs"]
#: the protobuf message of each signal's request (and answer): Export<name>ServiceRequest
MESSAGE_NAMES: dict[Signal, str] = {"traces": "Trace", "metrics": "Metrics", "logs": "Logs"}


class WireError(ValueError):
    """The body is not an OTLP request of its signal; the message names the problem."""


class _Wire(msgspec.Struct, rename="camel", forbid_unknown_fields=False, frozen=True):
    pass


class AnyValue(_Wire, frozen=True):
    string_value: str | None = None
    bool_value: bool | None = None
    int_value: int | None = None
    double_value: float | None = None
    array_value: ArrayValue | None = None
    kvlist_value: KeyValueList | None = None
    bytes_value: str | None = None


class ArrayValue(_Wire, frozen=True):
    values: list[AnyValue] = []


class KeyValue(_Wire, frozen=True):
    key: str
    value: AnyValue | None = None


class KeyValueList(_Wire, frozen=True):
    values: list[KeyValue] = []


class Resource(_Wire, frozen=True):
    attributes: list[KeyValue] = []


class Status(_Wire, frozen=True):
    message: str = ""
    code: int = 0  # 0 unset, 1 ok, 2 error


class Event(_Wire, frozen=True):
    name: str = ""
    time_unix_nano: int = 0
    attributes: list[KeyValue] = []


class Span(_Wire, frozen=True):
    trace_id: str = ""
    span_id: str = ""
    parent_span_id: str = ""
    name: str = ""
    kind: int = 0  # 1 internal, 2 server, 3 client, 4 producer, 5 consumer
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    attributes: list[KeyValue] = []
    events: list[Event] = []
    status: Status = Status()


class ScopeSpans(_Wire, frozen=True):
    spans: list[Span] = []


class ResourceSpans(_Wire, frozen=True):
    resource: Resource = Resource()
    scope_spans: list[ScopeSpans] = []


class TracesRequest(_Wire, frozen=True):
    resource_spans: list[ResourceSpans] = []


class NumberDataPoint(_Wire, frozen=True):
    attributes: list[KeyValue] = []
    time_unix_nano: int = 0
    as_double: float | None = None
    as_int: int | None = None


class HistogramDataPoint(_Wire, frozen=True):
    """A histogram, exponential histogram or summary point: only count and sum are read."""

    attributes: list[KeyValue] = []
    time_unix_nano: int = 0
    count: int = 0
    sum: float | None = None


class Points(_Wire, frozen=True):
    data_points: list[NumberDataPoint] = []


class HistogramPoints(_Wire, frozen=True):
    data_points: list[HistogramDataPoint] = []


class Metric(_Wire, frozen=True):
    name: str = ""
    unit: str = ""
    gauge: Points | None = None
    sum: Points | None = None
    histogram: HistogramPoints | None = None
    exponential_histogram: HistogramPoints | None = None
    summary: HistogramPoints | None = None


class ScopeMetrics(_Wire, frozen=True):
    metrics: list[Metric] = []


class ResourceMetrics(_Wire, frozen=True):
    resource: Resource = Resource()
    scope_metrics: list[ScopeMetrics] = []


class MetricsRequest(_Wire, frozen=True):
    resource_metrics: list[ResourceMetrics] = []


class LogRecord(_Wire, frozen=True):
    time_unix_nano: int = 0
    observed_time_unix_nano: int = 0
    severity_number: int = 0  # 17..20 ERROR, 21..24 FATAL
    severity_text: str = ""
    body: AnyValue | None = None
    attributes: list[KeyValue] = []
    trace_id: str = ""
    span_id: str = ""


class ScopeLogs(_Wire, frozen=True):
    log_records: list[LogRecord] = []


class ResourceLogs(_Wire, frozen=True):
    resource: Resource = Resource()
    scope_logs: list[ScopeLogs] = []


class LogsRequest(_Wire, frozen=True):
    resource_logs: list[ResourceLogs] = []


Request = TracesRequest | MetricsRequest | LogsRequest
_TYPES: dict[Signal, type[Request]] = {"traces": TracesRequest, "metrics": MetricsRequest,
                                       "logs": LogsRequest}
_json_decoders = {signal: msgspec.json.Decoder(kind, strict=False) for signal, kind in _TYPES.items()}


def decode_json(signal: Signal, body: bytes) -> Request:
    """A JSON body as the typed request of ``signal``; raises :class:`WireError`."""
    try:
        return _json_decoders[signal].decode(body)
    except msgspec.ValidationError as exc:  # a DecodeError too: first
        raise WireError(path_error("body", exc)) from exc
    except msgspec.DecodeError as exc:
        raise WireError(f"body: malformed JSON: {exc}") from exc
    except RecursionError as exc:
        raise WireError("body: nested too deeply") from exc
