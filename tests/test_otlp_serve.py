"""The real OpenTelemetry SDK and its OTLP/HTTP exporters (protobuf, as they send by default)
reporting to a real `wasmwatch serve`: spans, metrics and error logs stored and queryable, and
a server request linked by trace id to the client operation that caused it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tests.conftest import KEY, LiveServer

pytestmark = pytest.mark.server
RESOURCE = Resource.create({"service.name": "otel-shop", "service.version": "3.1.0"})
KEY_HEADER = {"x-wasmwatch-key": KEY}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("otlp") / "data").start()
    yield live
    live.stop()


def one(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


def test_spans_from_the_sdk_link_to_the_client_operation(server: LiveServer) -> None:
    """A browser operation's trace id in traceparent: the server's spans share it."""
    trace_id, browser_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    # the operation as the browser SDK reports it (its fetch carried traceparent 00-T-S-01)
    operation = {"id": uuid.uuid4().hex, "type": "operation", "ts": time.time() * 1000, "name": "save",
                 "ms": 42.0, "trace_id": trace_id}
    r = httpx.post(f"{server.url}/api/v1/ingest", params={"key": KEY},
                   json={"context": {"session": "tab-1"}, "items": [operation]})
    assert r.json()["accepted"] == 1
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers=KEY_HEADER, compression=Compression.Gzip)))
    tracer = provider.get_tracer("shop")
    parent = TraceContextTextMapPropagator().extract({"traceparent": f"00-{trace_id}-{browser_span}-01"})
    with tracer.start_as_current_span("POST /api/save", context=parent, kind=SpanKind.SERVER, attributes={
            "http.request.method": "POST", "http.route": "/api/save", "url.path": "/api/save",
            "http.response.status_code": 201}) as request_span:
        with tracer.start_as_current_span("INSERT orders", kind=SpanKind.CLIENT, attributes={
                "db.system.name": "sqlite", "db.query.text": "INSERT INTO orders VALUES (7, 'x@y.io')"}):
            pass
        with tracer.start_as_current_span("charge") as charge:
            charge.record_exception(ValueError("card declined"))
            charge.set_status(Status(StatusCode.ERROR))
    provider.shutdown()  # SimpleSpanProcessor exported each span as it ended: durably stored

    rows = server.items(trace_id=trace_id)
    assert sorted(r["type"] for r in rows) == ["operation", "server_request", "server_span", "server_span"]
    assert one(rows, type="operation")["name"] == "save"
    request = one(rows, type="server_request")
    assert (request["name"], request["method"], request["status"], request["ok"]) == ("/api/save", "POST", 201, True)
    assert request["parent_span_id"] == browser_span, "the browser's span is the request's parent"
    assert request["span_id"] == f"{request_span.get_span_context().span_id:016x}"
    assert request["service"] == "otel-shop" and request["release"] == "3.1.0"
    query = one(rows, type="server_span", kind="query")
    assert query["statement"] == "INSERT INTO orders VALUES (?, ?)"
    assert query["parent_span_id"] == request["span_id"]
    assert one(rows, type="server_span", kind="span")["ok"] is False
    errors = server.items(type="error", name="charge")
    assert [(e["kind"], e["message"]) for e in errors] == [("ValueError", "card declined")]


def test_metrics_from_the_sdk_are_measurements_and_process_samples(server: LiveServer) -> None:
    """A counter, a histogram and process memory, exported as protobuf, are stored."""
    def rss(options: CallbackOptions) -> list[Observation]:
        return [Observation(123_456_789)]

    reader = PeriodicExportingMetricReader(OTLPMetricExporter(
        endpoint=f"{server.url}/v1/metrics", headers=KEY_HEADER), export_interval_millis=3_600_000)
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("shop")
    meter.create_counter("orders.placed", unit="{order}").add(3, {"channel": "web"})
    latency = meter.create_histogram("checkout.duration", unit="ms")
    for ms in (10.0, 30.0):
        latency.record(ms)
    meter.create_observable_gauge("process.memory.usage", [rss], unit="By")
    try:
        assert provider.force_flush()  # one collection, exported: stored when it returns
        orders = server.items(type="measurement", name="orders.placed")
        assert [(m["value"], m["unit"]) for m in orders] == [(3.0, "{order}")]
        assert server.items(type="measurement", name="checkout.duration")[0]["value"] == 20.0, "the mean"
        process = [p for p in server.items(type="server_process") if p["service"] == "otel-shop"]
        assert [p["rss_bytes"] for p in process] == [123_456_789]
    finally:
        provider.shutdown()


def test_error_logs_from_the_sdk_are_errors(server: LiveServer) -> None:
    """An ERROR record is stored as an error; an INFO record is not stored."""
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(
        endpoint=f"{server.url}/v1/logs", headers={"authorization": f"Bearer {KEY}"})))
    logger = provider.get_logger("shop")
    marker = uuid.uuid4().hex
    logger.emit(LogRecord(timestamp=time.time_ns(), severity_number=SeverityNumber.INFO,
                          severity_text="INFO", body=f"started {marker}"))
    logger.emit(LogRecord(timestamp=time.time_ns(), severity_number=SeverityNumber.ERROR, severity_text="ERROR",
                          body=f"payment failed {marker}", attributes={"exception.type": "GatewayTimeout"}))
    provider.shutdown()
    errors = [e for e in server.items(type="error") if marker in (e["message"] or "")]
    assert [(e["kind"], e["message"]) for e in errors] == [("GatewayTimeout", f"payment failed {marker}")]


def test_hostile_bodies_get_a_400_over_real_http(server: LiveServer) -> None:
    """Garbage protobuf and mistyped JSON: 400 with a Status naming the problem, never a 500."""
    r = httpx.post(f"{server.url}/v1/traces", content=b"\x0a\xff\xff\xff\xff\x0f",
                   headers={**KEY_HEADER, "content-type": "application/x-protobuf"})
    assert r.status_code == 400
    assert "not a valid protobuf" in status_pb2.Status.FromString(r.content).message
    r = httpx.post(f"{server.url}/v1/metrics", json={"resourceMetrics": [{"scopeMetrics": "x"}]},
                   headers=KEY_HEADER)
    assert r.status_code == 400 and "resourceMetrics[0].scopeMetrics" in r.json()["message"]
    assert httpx.get(f"{server.url}/healthz").status_code == 200
