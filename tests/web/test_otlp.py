"""OTLP/HTTP over in-process HTTP: encodings, key forms, partial success, refusals as Status."""

from __future__ import annotations

import gzip
import zlib

import httpx
import msgspec
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from tests import otlp_bodies as b
from tests.conftest import KEY, NOW
from wasmwatch.runtime import Runtime

JSON = {"content-type": "application/json", "x-wasmwatch-key": KEY}
PROTOBUF = {"content-type": "application/x-protobuf", "x-wasmwatch-key": KEY}


def stored(rt: Runtime, where: str = "true") -> list[dict[str, object]]:
    assert rt.store is not None
    return rt.store.query(f"SELECT * FROM items WHERE {where} ORDER BY ts, id")


async def test_json_traces_are_stored_with_their_ids(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """A JSON export answers {} and stores the request and the query, ids lowercased."""
    r = await client.post("/v1/traces", content=msgspec.json.encode(b.server_and_db()), headers=JSON)
    assert (r.status_code, r.json()) == (200, {}), r.text
    rows = stored(runtime)
    assert [(row["type"], row["name"]) for row in rows] == [("server_request", "/api/items/{id}"),
                                                          ("server_span", "SELECT items")]
    assert {row["trace_id"] for row in rows} == {b.TRACE}
    assert rows[0]["status"] == 200 and rows[0]["method"] == "GET" and rows[0]["service"] == "shop-api"
    assert rows[1]["statement"] == "SELECT * FROM items WHERE id = ? AND owner = ?"


async def test_protobuf_gzip_and_deflate_bodies(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """Protobuf, gzipped or deflated, is stored and answered in protobuf."""
    message = trace_service_pb2.ExportTraceServiceRequest()
    message.ParseFromString(b"")  # an empty export is valid: nothing to store
    r = await client.post("/v1/traces", content=message.SerializeToString(), headers=PROTOBUF)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    answer = trace_service_pb2.ExportTraceServiceResponse.FromString(r.content)
    assert not answer.HasField("partial_success")
    body = msgspec.json.encode(b.server_and_db())
    for encoding, packed in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        r = await client.post("/v1/traces", content=packed, headers={**JSON, "content-encoding": encoding})
        assert r.status_code == 200, r.text
    assert len(stored(runtime)) == 2, "the second export was a replay: stored once"


async def test_partial_success_counts_and_names_rejected_spans(client: httpx.AsyncClient,
                                                               runtime: Runtime) -> None:
    """A bad span is rejected alone; partialSuccess counts it (int64 as a string) and says why."""
    body = b.traces(b.span("aa" * 8, "ok", 1, NOW, 1, {}), b.span("bb" * 8, "bad", 1, NOW, 1, {}, trace="12"))
    r = await client.post("/v1/traces", json=body, headers={"x-wasmwatch-key": KEY})
    assert r.status_code == 200
    partial = r.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert partial["errorMessage"].startswith("resourceSpans[0].scopeSpans[0].spans[1].trace_id")
    assert [row["name"] for row in stored(runtime)] == ["ok"]


async def test_logs_below_error_are_left_out_and_said_so(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """Only ERROR and above is stored; the answer says how many records were left out."""
    r = await client.post("/v1/logs", json=b.logs(b.log(9, "hello"), b.log(17, "boom")), headers=JSON)
    partial = r.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "0"
    assert partial["errorMessage"] == "1 log records below ERROR severity are not stored"
    assert [(row["type"], row["message"]) for row in stored(runtime)] == [("error", "boom")]


async def test_metrics_become_measurements_and_process_items(client: httpx.AsyncClient,
                                                             runtime: Runtime) -> None:
    """/v1/metrics stores a gauge as a measurement and process memory as server_process."""
    body = b.metrics(b.gauge("process.memory.usage", [(7e7, {})], "By"), b.gauge("queue.depth", [(3.0, {})]))
    r = await client.post("/v1/metrics", json=body, headers=JSON)
    assert (r.status_code, r.json()) == (200, {})
    rows = stored(runtime)
    assert sorted((row["type"], row["rss_bytes"] or row["value"]) for row in rows) == [
        ("measurement", 3.0), ("server_process", 70_000_000)]


@pytest.mark.parametrize("auth", [
    {"params": {"key": KEY}}, {"headers": {"x-wasmwatch-key": KEY}},
    {"headers": {"authorization": f"Bearer {KEY}"}}])
async def test_each_key_form_is_taken(client: httpx.AsyncClient, auth: dict[str, dict[str, str]]) -> None:
    """?key=, X-WasmWatch-Key and Authorization: Bearer all carry the project key."""
    r = await client.post("/v1/traces", json=b.server_and_db(), params=auth.get("params"),
                          headers=auth.get("headers"))
    assert r.status_code == 200, r.text


async def test_refusals_are_rpc_status_in_the_request_encoding(client: httpx.AsyncClient) -> None:
    """No key: 401 as JSON Status for JSON, as a protobuf Status for protobuf."""
    r = await client.post("/v1/traces", json=b.server_and_db())
    assert r.status_code == 401
    assert r.json()["code"] == 16 and "key" in r.json()["message"]
    r = await client.post("/v1/traces", content=b"", headers={"content-type": "application/x-protobuf",
                                                              "authorization": "Bearer pk_wrong"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/x-protobuf"
    assert status_pb2.Status.FromString(r.content).code == 16


@pytest.mark.parametrize(("body", "headers", "status", "reason"), [
    (b"{not json", JSON, 400, "malformed JSON"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}', JSON, 400,
     "startTimeUnixNano"),
    (b"\x0a\xff\xff\xff\xff\x0f", PROTOBUF, 400, "not a valid protobuf"),
    (b"\x1f\x8b\x08\x00garbage", {**JSON, "content-encoding": "gzip"}, 400, "not valid gzip"),
    (gzip.compress(b"{" * (3 << 20)), {**JSON, "content-encoding": "gzip"}, 413, "inflates to over"),
    (b"{}", {**JSON, "content-type": "text/xml"}, 415, "content type"),
    (b"{}", {**JSON, "content-encoding": "br"}, 415, "content encoding"),
])
async def test_hostile_bodies_are_clear_4xx(client: httpx.AsyncClient, body: bytes, headers: dict[str, str],
                                            status: int, reason: str) -> None:
    """Malformed, mistyped, corrupt, bomb and unknown-type bodies: a 4xx naming the problem."""
    r = await client.post("/v1/traces", content=body, headers=headers)
    assert r.status_code == status
    message = (status_pb2.Status.FromString(r.content).message if headers is PROTOBUF
               else r.json()["message"])
    assert reason in message, message


async def test_too_many_items_is_refused(client: httpx.AsyncClient) -> None:
    """More spans than max_items_per_batch in one request: 400 saying to export smaller batches."""
    body = b.traces(*[b.span(f"{i:016x}", "s", 1, NOW, 1, {}) for i in range(1, 1002)])
    r = await client.post("/v1/traces", json=body, headers=JSON)
    assert r.status_code == 400 and "max_export_batch_size" in r.json()["message"]


async def test_big_exports_are_decoded_off_the_event_loop(client: httpx.AsyncClient, runtime: Runtime,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A body over INLINE_BYTES is decoded and checked on a worker thread, a small one inline;
    a big malformed body is still a 400 naming the problem."""
    import threading

    from wasmwatch.web import otlp

    threads: list[str] = []
    real = otlp.decode

    def spy(*args: object) -> object:
        threads.append(threading.current_thread().name)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(otlp, "decode", spy)
    big = msgspec.json.encode(b.traces(*[b.span(f"{i:016x}", f"GET /r/{i}", 2, NOW, 1, {})
                                         for i in range(1, 120)]))
    small = msgspec.json.encode(b.server_and_db())
    assert len(big) >= otlp.INLINE_BYTES > len(small)
    for body in (big, small):
        r = await client.post("/v1/traces", content=body, headers=JSON)
        assert (r.status_code, r.json()) == (200, {}), r.text
    loop_thread = threading.current_thread().name
    assert threads[0] != loop_thread and threads[1] == loop_thread, threads
    assert len(stored(runtime, "type = 'server_request'")) == 119 + 1
    bad = big.replace(b'"traceId"', b'"traceId":7,"x"', 1)
    r = await client.post("/v1/traces", content=bad, headers=JSON)
    assert r.status_code == 400 and "traceId" in r.json()["message"], r.text


async def test_cors_preflight_on_the_otlp_paths(client: httpx.AsyncClient) -> None:
    """/v1/* answer a preflight as ingest does, allowing the key header and Authorization."""
    for path in ("/v1/traces", "/v1/metrics", "/v1/logs"):
        r = await client.options(path, headers={
            "origin": "http://app.example", "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-wasmwatch-key"})
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == "http://app.example"
        allowed = {h.strip() for h in r.headers["access-control-allow-headers"].split(",")}
        assert {"content-type", "content-encoding", "x-wasmwatch-key", "authorization"} <= allowed
