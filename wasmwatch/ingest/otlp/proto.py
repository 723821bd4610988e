"""OTLP protobuf bodies (``opentelemetry-proto``'s messages) as the typed values of :mod:`.wire`,
and the protobuf answers. Imported on the first protobuf body (the modules hold ~1 MB that a
server taking only OTLP JSON never needs).

Only the fields :mod:`.wire` declares are read (the rest of a message is ignored, as unknown
JSON fields are); bytes (trace and span ids) become hex, as the OTLP JSON mapping has them.
Reading attributes of parsed messages directly is about five times faster than a generic
walk of every message into a dict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from wasmwatch.ingest.otlp import wire

__all__ = ["RESPONSES", "decode", "status"]

#: signal -> its ``Export<Signal>ServiceResponse`` and ``Export<Signal>PartialSuccess``
RESPONSES: dict[wire.Signal, tuple[Callable[..., Message], Callable[..., Message]]] = {
    "traces": (trace_service_pb2.ExportTraceServiceResponse,
               trace_service_pb2.ExportTracePartialSuccess),
    "metrics": (metrics_service_pb2.ExportMetricsServiceResponse,
                metrics_service_pb2.ExportMetricsPartialSuccess),
    "logs": (logs_service_pb2.ExportLogsServiceResponse, logs_service_pb2.ExportLogsPartialSuccess),
}


def status(code: int, message: str) -> bytes:
    """A serialized ``google.rpc.Status``."""
    body: bytes = status_pb2.Status(code=code, message=message).SerializeToString()
    return body


def decode(signal: wire.Signal, body: bytes) -> wire.Request:
    """A protobuf body as the typed request of ``signal``; raises :class:`~.wire.WireError`."""
    message, read = _SIGNALS[signal]
    parsed = message()
    try:
        parsed.ParseFromString(body)
    except (DecodeError, RecursionError) as exc:
        raise wire.WireError(f"body: not a valid protobuf Export{wire.MESSAGE_NAMES[signal]}"
                             f"ServiceRequest: {exc}") from exc
    return read(parsed)


def any_value(p: Any) -> wire.AnyValue:
    which = p.WhichOneof("value")
    if which is None:
        return wire.AnyValue()
    if which == "array_value":
        return wire.AnyValue(array_value=wire.ArrayValue([any_value(v) for v in p.array_value.values]))
    if which == "kvlist_value":
        return wire.AnyValue(kvlist_value=wire.KeyValueList(attributes(p.kvlist_value.values)))
    if which == "bytes_value":
        return wire.AnyValue(bytes_value=p.bytes_value.hex())
    return wire.AnyValue(**{which: getattr(p, which)})


def attributes(kvs: Any) -> list[wire.KeyValue]:
    return [wire.KeyValue(kv.key, any_value(kv.value) if kv.HasField("value") else None) for kv in kvs]


def _resource(p: Any) -> wire.Resource:
    return wire.Resource(attributes(p.resource.attributes))


def _span(p: Any) -> wire.Span:
    return wire.Span(
        trace_id=p.trace_id.hex(), span_id=p.span_id.hex(), parent_span_id=p.parent_span_id.hex(),
        name=p.name, kind=p.kind, start_time_unix_nano=p.start_time_unix_nano,
        end_time_unix_nano=p.end_time_unix_nano, attributes=attributes(p.attributes),
        events=[wire.Event(e.name, e.time_unix_nano, attributes(e.attributes)) for e in p.events],
        status=wire.Status(p.status.message, p.status.code))


def traces(p: Any) -> wire.TracesRequest:
    return wire.TracesRequest([
        wire.ResourceSpans(_resource(rs), [wire.ScopeSpans([_span(s) for s in ss.spans])
                                           for ss in rs.scope_spans])
        for rs in p.resource_spans])


def _number(p: Any) -> wire.NumberDataPoint:
    which = p.WhichOneof("value")
    return wire.NumberDataPoint(attributes(p.attributes), p.time_unix_nano,
                                p.as_double if which == "as_double" else None,
                                p.as_int if which == "as_int" else None)


def _counted(p: Any) -> wire.HistogramDataPoint:
    try:
        has_sum = p.HasField("sum")  # optional in histograms
    except ValueError:
        has_sum = True  # a summary's sum is always there
    return wire.HistogramDataPoint(attributes(p.attributes), p.time_unix_nano, p.count,
                                   p.sum if has_sum else None)


def _metric(p: Any) -> wire.Metric:
    which = p.WhichOneof("data")
    numbers = getattr(p, which) if which in ("gauge", "sum") else None
    counted = getattr(p, which) if which in ("histogram", "exponential_histogram", "summary") else None
    fields: dict[str, Any] = {}
    if numbers is not None:
        fields[which] = wire.Points([_number(d) for d in numbers.data_points])
    if counted is not None:
        fields[which] = wire.HistogramPoints([_counted(d) for d in counted.data_points])
    return wire.Metric(name=p.name, unit=p.unit, **fields)


def metrics(p: Any) -> wire.MetricsRequest:
    return wire.MetricsRequest([
        wire.ResourceMetrics(_resource(rm), [wire.ScopeMetrics([_metric(m) for m in sm.metrics])
                                             for sm in rm.scope_metrics])
        for rm in p.resource_metrics])


def _record(p: Any) -> wire.LogRecord:
    return wire.LogRecord(
        time_unix_nano=p.time_unix_nano, observed_time_unix_nano=p.observed_time_unix_nano,
        severity_number=p.severity_number, severity_text=p.severity_text,
        body=any_value(p.body) if p.HasField("body") else None, attributes=attributes(p.attributes),
        trace_id=p.trace_id.hex(), span_id=p.span_id.hex())


def logs(p: Any) -> wire.LogsRequest:
    return wire.LogsRequest([
        wire.ResourceLogs(_resource(rl), [wire.ScopeLogs([_record(r) for r in sl.log_records])
                                          for sl in rl.scope_logs])
        for rl in p.resource_logs])


_SIGNALS: dict[wire.Signal, tuple[Callable[[], Message], Callable[[Any], wire.Request]]] = {
    "traces": (trace_service_pb2.ExportTraceServiceRequest, traces),
    "metrics": (metrics_service_pb2.ExportMetricsServiceRequest, metrics),
    "logs": (logs_service_pb2.ExportLogsServiceRequest, logs),
}
