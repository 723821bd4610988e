"""OTLP bodies to items: the JSON mapping and protobuf decode alike, and each signal's mapping."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from tests import otlp_bodies as b
from tests.conftest import NOW
from wasmwatch.ingest import otlp
from wasmwatch.ingest import schema as s
from wasmwatch.ingest.otlp.wire import WireError
from wasmwatch.ingest.pipeline import Pipeline


def export(signal: otlp.wire.Signal, body: dict[str, Any], now: int = NOW) -> otlp.Export:
    request = otlp.decode(signal, msgspec.json.encode(body), False)
    return otlp.chunks(signal, request, otlp.items(signal, request), Pipeline(), "default", now, 100)


def stored(result: otlp.Export) -> list[s.Item]:
    return [item for chunk in result.chunks for item in chunk.items]


def test_server_span_is_a_request_and_db_span_a_scrubbed_query() -> None:
    """SERVER -> server_request (route template, method, status, session); db -> query."""
    result = export("traces", b.server_and_db())
    assert (result.accepted, result.rejected) == (2, 0)
    request, query = stored(result)
    assert isinstance(request, s.ServerRequest) and isinstance(query, s.ServerSpan)
    assert (request.route, request.method, request.status, request.ok) == ("/api/items/{id}", "GET", 200, True)
    assert request.ms == 8.5 and request.ts == NOW
    assert (request.trace_id, request.span_id, request.parent_span_id) == (b.TRACE, b.SERVER_SPAN, b.PARENT)
    assert request.service == "shop-api" and request.session == "sess-9"
    assert (query.kind, query.name, query.ms, query.parent_span_id) == ("query", "SELECT items", 2.25, b.SERVER_SPAN)
    assert query.statement == "SELECT * FROM items WHERE id = ? AND owner = ?"
    assert query.tags == {"db.system": "postgresql"}
    assert result.chunks[0].context[4] == "2.0.1", "service.version is the release"


def test_protobuf_gives_the_same_items_as_json() -> None:
    """The protobuf form of a request maps to exactly what its JSON form maps to."""
    body = b.server_and_db()
    message = trace_service_pb2.ExportTraceServiceRequest()
    # protobuf's own JSON form carries ids as base64: the JSON mapping's hex ids, converted
    proto_json = msgspec.json.decode(msgspec.json.encode(body))
    for sp in proto_json["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId", "parentSpanId"):
            sp[key] = __import__("base64").b64encode(bytes.fromhex(sp[key])).decode()
    json_format.ParseDict(proto_json, message)
    request = otlp.decode("traces", message.SerializeToString(), True)
    assert request == otlp.decode("traces", msgspec.json.encode(body), False)


@pytest.mark.parametrize(("signal", "message", "body"), [
    ("metrics", metrics_service_pb2.ExportMetricsServiceRequest, b.metrics(
        b.gauge("queue.depth", [(4.0, {"queue": "mail", "n": 3, "ok": True})], "{item}"),
        {"name": "lat", "unit": "s", "histogram": {"dataPoints": [
            {"timeUnixNano": b.nanos(NOW), "count": "4", "sum": 2.0}, {"timeUnixNano": b.nanos(NOW), "count": "2"}]}},
        {"name": "q", "summary": {"dataPoints": [{"timeUnixNano": b.nanos(NOW), "count": "3", "sum": 1.5}]}},
        {"name": "c", "sum": {"dataPoints": [{"timeUnixNano": b.nanos(NOW), "asInt": "12"}]}})),
    ("logs", logs_service_pb2.ExportLogsServiceRequest, b.logs(
        b.log(17, "boom", **{"exception.type": "E"}), b.log(9, "hi", text="INFO"),
        {"timeUnixNano": b.nanos(NOW), "severityNumber": 17, "body": {"kvlistValue": {"values": [
            b.attr("a", 1), b.attr("b", ["x", "y"])]}}})),
])
def test_protobuf_metrics_and_logs_decode_as_their_json(signal: otlp.wire.Signal, message: Any,
                                                       body: dict[str, Any]) -> None:
    """Metrics and logs read from protobuf equal the same requests read from OTLP JSON."""
    parsed = json_format.ParseDict(body, message())
    assert otlp.decode(signal, parsed.SerializeToString(), True) == otlp.decode(signal, msgspec.json.encode(body), False)


def test_route_falls_back_to_the_span_name_never_the_path() -> None:
    """Without http.route the name without its method is the route; status from the old key."""
    body = b.traces(b.span("aa" * 8, "POST /cart/{id}", 2, NOW, 3, {"http.method": "post",
                                                                    "http.target": "/cart/7?x=1",
                                                                    "http.status_code": 503}),
                    b.span("bb" * 8, "grpc.Health/Check", 2, NOW, 1, {}, status=2))
    first, second = stored(export("traces", body))
    assert isinstance(first, s.ServerRequest) and isinstance(second, s.ServerRequest)
    assert (first.route, first.method, first.status, first.ok) == ("/cart/{id}", "POST", 503, False)
    assert (second.route, second.method, second.status, second.ok) == ("grpc.Health/Check", "_OTHER", 500, False)


def test_internal_span_with_exception_event_gives_a_span_and_an_error() -> None:
    """An exception event is an error item; the span's attributes are its tags."""
    event = {"name": "exception", "timeUnixNano": b.nanos(NOW + 2), "attributes": [
        b.attr("exception.type", "KeyError"), b.attr("exception.message", "'sku'"),
        b.attr("exception.stacktrace", "Traceback ...")]}
    body = b.traces(b.span("cc" * 8, "price", 1, NOW, 4, {"cart.size": 3, "url.full": "http://x/?t=1"},
                           status=2, events=[event]))
    span, error = stored(export("traces", body))
    assert isinstance(span, s.ServerSpan) and isinstance(error, s.Error)
    assert (span.kind, span.ok, span.tags) == ("span", False, {"cart.size": 3})
    assert (error.kind, error.message, error.stack, error.operation) == ("KeyError", "'sku'", "Traceback ...", "price")


def test_a_bad_span_is_rejected_alone_and_named() -> None:
    """A span ending before it starts, a bad trace id, and one out of retention: each named."""
    good = b.span("dd" * 8, "ok", 1, NOW, 1, {})
    backwards = {**b.span("ee" * 8, "back", 1, NOW, 1, {}), "endTimeUnixNano": b.nanos(NOW - 5)}
    bad_id = b.span("ff" * 8, "bad", 1, NOW, 1, {}, trace="xyz")
    old = b.span("ab" * 8, "old", 1, NOW - 400 * 86_400_000, 1, {})
    result = export("traces", b.traces(good, backwards, bad_id, old))
    assert (result.accepted, result.rejected) == (1, 3)
    assert result.first_error == "resourceSpans[0].scopeSpans[0].spans[1]: endTimeUnixNano: before startTimeUnixNano"
    assert [i.id for i in stored(result)] == [f"otlp.{b.TRACE}.{'dd' * 8}"]


def test_the_same_export_twice_makes_the_same_ids() -> None:
    """Item ids come from span ids and content, so a retried export is stored once."""
    body = b.metrics(b.gauge("queue.depth", [(4.0, {"queue": "mail"})]))
    assert [i.id for i in stored(export("metrics", body))] == [i.id for i in stored(export("metrics", body))]


def test_process_metrics_make_one_server_process_item() -> None:
    """Memory, CPU (user + system), threads and GC of one collection are one server_process."""
    body = b.metrics(
        b.gauge("process.runtime.cpython.memory", [(5e7, {"type": "rss"}), (9e8, {"type": "vms"})], "By"),
        b.gauge("process.runtime.cpython.cpu_time", [(1.5, {"type": "user"}), (0.5, {"type": "system"})], "s",
                kind="sum"),
        b.gauge("process.thread.count", [(4.0, {})]),
        b.gauge("cpython.gc.collections", [(10.0, {"cpython.gc.generation": 0}), (2.0, {"cpython.gc.generation": 1})],
                kind="sum"),
        b.gauge("http.server.active_requests", [(3.0, {"http.request.method": "GET"})], "{request}"))
    result = export("metrics", body)
    measurement, process = stored(result)
    assert isinstance(process, s.ServerProcess) and isinstance(measurement, s.Measurement)
    assert (process.rss_bytes, process.cpu_s, process.threads, process.gc_count) == (5e7, 2.0, 4.0, 12.0)
    assert process.service == "shop-api" and process.ts == NOW
    assert (measurement.name, measurement.value, measurement.unit) == ("http.server.active_requests", 3.0, "{request}")
    assert measurement.tags == {"http.request.method": "GET"}


def test_histograms_are_their_mean_and_empty_points_are_skipped() -> None:
    """A histogram point is its mean (sum / count); a point with count 0 is not stored."""
    hist = {"name": "http.server.request.duration", "unit": "s", "histogram": {"dataPoints": [
        {"timeUnixNano": b.nanos(NOW), "count": "4", "sum": 2.0, "bucketCounts": ["1", "3"], "explicitBounds": [0.5]},
        {"timeUnixNano": b.nanos(NOW), "count": "0", "sum": 0}]}}
    (only,) = stored(export("metrics", b.metrics(hist)))
    assert isinstance(only, s.Measurement) and only.value == 0.5 and only.unit == "s"


def test_error_logs_are_errors_and_lower_severities_are_left_out() -> None:
    """ERROR and FATAL records become errors; INFO is counted as left out, not rejected."""
    body = b.logs(b.log(9, "started"), b.log(17, "payment failed", **{"exception.type": "CardDeclined"}),
                  b.log(0, "disk gone", text="FATAL"), b.log(13, "slow"))
    result = export("logs", body)
    assert (result.accepted, result.rejected, result.left_out) == (2, 0, 2)
    first, second = stored(result)
    assert isinstance(first, s.Error) and isinstance(second, s.Error)
    assert (first.kind, first.message, first.category) == ("CardDeclined", "payment failed", "application")
    assert (second.kind, second.message, second.category) == ("FATAL", "disk gone", "critical")


@pytest.mark.parametrize(("signal", "body", "reason"), [
    ("traces", b"{", "malformed JSON"),
    ("traces", b"[]", "expected `object`"),
    ("traces", b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": "x"}]}]}]}',
     "body.resourceSpans[0].scopeSpans[0].spans[0].kind"),
    ("metrics", b'{"resourceMetrics": 5}', "body.resourceMetrics"),
    ("logs", b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": ' + b'{"arrayValue": {"values": [' * 5000
     + b']}}' * 5000 + b'}]}]}]}', "nested too deeply"),
])
def test_hostile_json_is_a_wire_error(signal: otlp.wire.Signal, body: bytes, reason: str) -> None:
    """Malformed, mistyped and deeply nested JSON is refused with a message naming it."""
    with pytest.raises(WireError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        otlp.decode(signal, body, False)


@pytest.mark.parametrize("body", [b"\xff\xff\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x0a\x05abc"])
def test_hostile_protobuf_is_a_wire_error(body: bytes) -> None:
    """Bytes that are no ExportTraceServiceRequest are refused, naming the message."""
    with pytest.raises(WireError, match="not a valid protobuf ExportTraceServiceRequest"):
        otlp.decode("traces", body, True)
