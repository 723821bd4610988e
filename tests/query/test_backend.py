"""Route latency and operations split by trace, over in-process HTTP on a real DuckDB file."""

from __future__ import annotations

import httpx

from tests.conftest import KEY, NOW, envelope, item
from wasmwatch.clock import ManualClock

URL = f"/api/v1/ingest?key={KEY}"
T1, T2, T3 = "1" * 32, "2" * 32, "3" * 32


def request(route: str, ms: float, trace: str | None = None, span: str = "a" * 16,
            parent: str | None = None, status: int = 200, ts: int = NOW) -> dict[str, object]:
    fields: dict[str, object] = dict(route=route, method="GET", status=status, ms=ms, span_id=span, ts=ts)
    if trace:
        fields["trace_id"] = trace
    if parent:
        fields["parent_span_id"] = parent
    return item("server_request", **fields)


async def _post(client: httpx.AsyncClient, items: list[dict[str, object]], **ctx: object) -> None:
    r = await client.post(URL, json=envelope(items, **ctx))
    assert r.json()["rejected"] == [], r.text


async def test_operation_is_split_into_client_server_and_network(
        client: httpx.AsyncClient, admin: dict[str, str], clock: ManualClock) -> None:
    """A linked operation's server time is its top-level requests' sum; network is the rest."""
    await _post(client, [item(name="save", ms=100.0, trace_id=T1), item(name="save", ms=50.0, trace_id=T2),
                         item(name="save", ms=9.0), item(name="load", ms=30.0, trace_id=T3)])
    await _post(client, [
        request("/api/save", 60.0, T1, "b" * 16, parent="c" * 16),
        request("/api/audit", 10.0, T1, "d" * 16, parent="c" * 16),
        request("/internal/hop", 20.0, T1, "e" * 16, parent="b" * 16),  # called by /api/save
        request("/api/save", 80.0, T2, "f" * 16),  # slower than the operation: network 0
        item("server_span", name="SELECT x", kind="query", ms=5.0, trace_id=T1, span_id="9" * 16,
             parent_span_id="b" * 16),
    ], service="api")
    clock.advance(1000)
    r = await client.get("/api/v1/linked?window=1h", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    (save,) = body["operations"]
    assert save["operation"] == "save" and save["count"] == 2
    assert save["client_ms"]["mean"] == 75.0 and save["server_ms"]["mean"] == 75.0
    assert save["network_ms"]["mean"] == 15.0 and save["requests_per_operation"] == 1.5
    newest = {t["trace_id"]: t for t in body["traces"]}
    t1 = newest[T1]
    assert (t1["client_ms"], t1["server_ms"], t1["network_ms"], t1["requests"]) == (100.0, 70.0, 30.0, 2)
    assert [c["route"] for c in t1["calls"]] == ["/api/save", "/api/audit"]
    assert newest[T2]["network_ms"] == 0.0 and T3 not in newest


async def test_routes_have_percentiles_failures_and_queries(
        client: httpx.AsyncClient, admin: dict[str, str], clock: ManualClock) -> None:
    """Each route gets its count, failures (>= 500), p50/p95/p99 and queries per request."""
    reqs = [request("/api/items/{id}", float(ms), "4" * 32, f"{i:016x}", ts=NOW + i)
            for i, ms in enumerate(range(1, 101))]
    reqs.append(request("/api/items/{id}", 5.0, status=503, span="5" * 16))
    spans = [item("server_span", name="SELECT items", kind="query", ms=2.0, trace_id="4" * 32,
                  span_id=f"{i + 500:016x}", parent_span_id=f"{i:016x}") for i in range(10)]
    await _post(client, reqs + spans, service="api")
    clock.advance(1000)
    r = await client.get("/api/v1/routes?window=1h", headers=admin)
    (route,) = r.json()["routes"]
    assert (route["service"], route["method"], route["route"], route["count"], route["failures"]) == (
        "api", "GET", "/api/items/{id}", 101, 1)
    assert 50 <= route["p50"] <= 52 and 95 <= route["p95"] <= 97 and 99 <= route["p99"] <= 100
    assert route["queries_per_request"] == 10 / 101
    r = await client.get("/api/v1/routes?window=1h&service=other", headers=admin)
    assert r.json()["routes"] == []


async def test_routes_carry_each_services_newest_process_sample(
        client: httpx.AsyncClient, admin: dict[str, str], clock: ManualClock) -> None:
    """Per service: the newest sample's memory, threads, CPU and GC, the window's peak memory."""
    def sample(ts: int, rss: int, cpu: float, gc: int) -> dict[str, object]:
        return item("server_process", ts=ts, rss_bytes=rss, cpu_s=cpu, threads=4, gc_count=gc, gc_ms=gc / 2)

    await _post(client, [sample(NOW - 2000, 90_000_000, 1.0, 3), sample(NOW, 60_000_000, 2.5, 8)],
                service="api")
    await _post(client, [sample(NOW - 1000, 10_000_000, 0.5, 1)], service="worker")
    clock.advance(1000)
    r = await client.get("/api/v1/routes?window=1h", headers=admin)
    api, worker = r.json()["processes"]
    assert api == {"service": "api", "samples": 2, "ts": NOW, "rss_bytes": 60_000_000,
                   "peak_rss_bytes": 90_000_000, "threads": 4, "cpu_s": 2.5, "gc_count": 8, "gc_ms": 4.0}
    assert (worker["service"], worker["samples"], worker["rss_bytes"]) == ("worker", 1, 10_000_000)
    r = await client.get("/api/v1/routes?window=1h&service=worker", headers=admin)
    assert [p["service"] for p in r.json()["processes"]] == ["worker"]


async def test_backend_views_need_the_admin_token_and_a_sane_range(
        client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """No token is a 401; a bad window or limit is a 400 naming it."""
    assert (await client.get("/api/v1/routes")).status_code == 401
    r = await client.get("/api/v1/linked?limit=x", headers=admin)
    assert r.status_code == 400 and "limit" in r.text
    r = await client.get("/api/v1/routes?window=forever", headers=admin)
    assert r.status_code == 400 and "forever" in r.text
