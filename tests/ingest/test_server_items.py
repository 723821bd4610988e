"""The server item types (server_request, server_span, server_process): validated and stored."""

from __future__ import annotations

import httpx

from tests.conftest import KEY, NOW, envelope, item
from wasmwatch.runtime import Runtime

URL = f"/api/v1/ingest?key={KEY}"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def stored(rt: Runtime, type_: str) -> list[dict[str, object]]:
    assert rt.store is not None
    return rt.store.query(f"SELECT * FROM items WHERE type = '{type_}' ORDER BY ts, id")


async def test_server_request_is_stored_with_route_and_trace(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    """A server request keeps its route template, method, status and trace ids; service comes
    from the batch context when the item has none; ok is derived from the status."""
    items = [item("server_request", route="/api/items/{id}", method="get", status=503, ms=12.5,
                  trace_id=TRACE.upper(), span_id=SPAN, session="tab-7"),
             item("server_request", route="/health?token=x", method="GET", status=200, ms=1.0,
                  service="other", ts=NOW + 1)]
    r = await client.post(URL, json=envelope(items, service="shop-api", release="2.0"))
    assert r.json() == {"accepted": 2, "rejected": [], "duplicates": 0}
    first, second = stored(runtime, "server_request")
    assert (first["name"], first["method"], first["status"], first["ms"]) == (
        "/api/items/{id}", "GET", 503, 12.5)
    assert (first["trace_id"], first["span_id"], first["parent_span_id"]) == (TRACE, SPAN, None)
    assert first["ok"] is False and second["ok"] is True
    assert (first["service"], second["service"]) == ("shop-api", "other")
    assert second["name"] == "/health" and first["release"] == "2.0"
    assert (first["session"], second["session"]) == ("tab-7", "s1")


async def test_server_span_and_process_are_stored(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """A query span keeps its statement and kind; a process sample its memory, CPU and threads."""
    items = [item("server_span", name="SELECT items", kind="query", ms=3.25, trace_id=TRACE,
                  span_id=SPAN, parent_span_id="b7ad6b7169203331",
                  statement="SELECT * FROM items WHERE id = ?", tags={"db": "main"}),
             item("server_process", rss_bytes=52_428_800, cpu_s=1.5, threads=4, gc_count=7,
                  gc_ms=2.5)]
    r = await client.post(URL, json=envelope(items, service="shop-api"))
    assert r.json()["accepted"] == 2
    (span,) = stored(runtime, "server_span")
    assert (span["kind"], span["statement"], span["ok"]) == (
        "query", "SELECT * FROM items WHERE id = ?", True)
    assert span["parent_span_id"] == "b7ad6b7169203331" and span["tags"] == '{"db":"main"}'
    (proc,) = stored(runtime, "server_process")
    assert (proc["rss_bytes"], proc["cpu_s"], proc["threads"], proc["gc_count"], proc["gc_ms"],
            proc["service"]) == (52_428_800, 1.5, 4, 7, 2.5, "shop-api")


async def test_operation_keeps_its_trace_id(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """An operation's optional trace_id is stored lowercased; without one it is NULL."""
    r = await client.post(URL, json=envelope([item(trace_id=TRACE.upper()), item()]))
    assert r.json()["accepted"] == 2
    assert sorted(str(r["trace_id"]) for r in stored(runtime, "operation")) == [TRACE, "None"]


async def test_bad_server_items_are_rejected_by_field(client: httpx.AsyncClient) -> None:
    """A malformed trace id, an impossible status, an unknown span kind each reject their item."""
    items = [item("server_request", route="/", method="GET", status=200, ms=1.0, trace_id="xyz"),
             item("server_request", route="/", method="GET", status=999, ms=1.0),
             item("server_span", name="q", ms=1.0, kind="lunch"),
             item("server_span", name="q", ms=1.0, span_id="00f067aa0ba902b"),
             item("server_process", rss_bytes=-1)]
    r = await client.post(URL, json=envelope(items))
    answer = r.json()
    assert answer["accepted"] == 0
    errors = [x["error"] for x in answer["rejected"]]
    assert "items[0].trace_id" in errors[0]
    assert "items[1].status" in errors[1]
    assert "items[2].kind" in errors[2]
    assert "items[3].span_id" in errors[3]
    assert "items[4].rss_bytes" in errors[4]
