"""A real page calls its own Starlette (uvicorn) and Flask (waitress) server inside `track()`;
the servers report through wasmwatch.client to a real `wasmwatch serve`: the operation and the
requests it caused arrive linked by trace id, split into client, server and network time, and
the dashboard's server page shows them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.client.apps import Views, asgi_app, uvicorn_serving, waitress_serving, wsgi_app
from tests.conftest import LiveServer
from wasmwatch.client import Client, set_client

pytestmark = [pytest.mark.browser, pytest.mark.server]

PAGE = """<!doctype html><meta charset="utf-8"><title>app</title>
<script src="{ww}/sdk/wasmwatch.iife.js"></script>
<script>
  const ww = WasmWatch.init({{ endpoint: '{ww}', key: '{key}', release: '3.0.0' }})
  window.call = async (name, path) => {{
    const out = await ww.track(name, async () => (await fetch(path, {{ method: 'POST' }})).json())
    await ww.flush()
    return out
  }}
</script>"""


@pytest.fixture
def servers(live_server: LiveServer) -> Iterator[dict[str, str]]:
    client = Client(live_server.url, live_server.key, service="shop-api", release="3.0.0",
                    flush_interval_s=0.05, poll_interval_s=0)
    page = PAGE.format(ww=live_server.url, key=live_server.key)
    set_client(client)  # for the span inside the save view
    try:
        with uvicorn_serving(asgi_app("starlette", client, Views(page))) as asgi, \
                waitress_serving(wsgi_app("flask", client, Views(page))) as wsgi:
            yield {"asgi": asgi, "wsgi": wsgi, "flush": client.flush}  # type: ignore[dict-item]
    finally:
        set_client(None)
        client.close()


def until(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def api(server: LiveServer, path: str, **params: Any) -> Any:
    answer = httpx.get(server.url + path, params={"window": "1h", **params}, timeout=10,
                       headers={"authorization": f"Bearer {server.admin_token}"})
    answer.raise_for_status()
    return answer.json()


def test_operation_and_its_server_requests_arrive_linked(
        live_server: LiveServer, servers: dict[str, Any], browser: Any) -> None:
    """Each page's track() fetch reaches its server with traceparent and the session; the stored
    operation and request share the trace id and the session; the times add up."""
    context = browser.new_context()
    try:
        for app, name, path in (("asgi", "save", "/api/docs/7/save"), ("wsgi", "load", "/api/users/3/load")):
            page = context.new_page()
            page.goto(servers[app] + "/")
            page.wait_for_function("typeof window.call === 'function'")
            assert page.evaluate("([n, p]) => window.call(n, p)", [name, path]) in ({"saved": True}, {"id": 3})
            page.close()
    finally:
        context.close()
    servers["flush"]()  # hurries delivery along; until() waits for the linked rows
    linked = until(lambda: api(live_server, "/api/v1/linked"),
                   lambda body: {o["operation"] for o in body["operations"]} == {"save", "load"})
    by_op = {t["operation"]: t for t in linked["traces"]}
    assert set(by_op) == {"save", "load"}, linked
    for name, route in (("save", "/api/docs/{doc_id}/save"), ("load", "/api/users/<int:user_id>/load")):
        t = by_op[name]
        assert [c["route"] for c in t["calls"]] == [route] and t["calls"][0]["status"] == 200
        # two clocks: the server's time may even exceed the browser's by a little
        assert t["client_ms"] > 0 and t["server_ms"] > 0
        assert abs(t["network_ms"] - max(t["client_ms"] - t["server_ms"], 0.0)) < 1e-6
        (op,) = live_server.items(type="operation", trace_id=t["trace_id"])
        (req,) = live_server.items(type="server_request", trace_id=t["trace_id"])
        assert req["session"] == op["session"] and op["session"]
        assert req["parent_span_id"] and req["service"] == "shop-api"
    spans = live_server.items(type="server_span", trace_id=by_op["save"]["trace_id"])
    assert [s["name"] for s in spans] == ["validate"]
    routes = {r["route"]: r for r in api(live_server, "/api/v1/routes")["routes"]}
    assert routes["/api/docs/{doc_id}/save"]["count"] == 1 and routes["/api/docs/{doc_id}/save"]["p99"] > 0


def test_dashboard_server_page_shows_the_split(live_server: LiveServer, browser: Any) -> None:
    """The server page lists the linked operation with its three times, the route's p50/p95/p99
    and the service's process sample."""
    trace = "5" * 32
    now = int(time.time() * 1000)
    httpx.post(f"{live_server.url}/api/v1/ingest", params={"key": live_server.key}, json={
        "sent_at": now, "context": {"session": "tab-1", "release": "3.0.0"},
        "items": [{"id": "op-1", "type": "operation", "ts": now, "name": "export", "ms": 250.0,
                   "trace_id": trace}]}).raise_for_status()
    httpx.post(f"{live_server.url}/api/v1/ingest", params={"key": live_server.key}, json={
        "sent_at": now, "context": {"service": "shop-api"},
        "items": [{"id": "rq-1", "type": "server_request", "ts": now + 5, "route": "/api/export",
                   "method": "POST", "status": 200, "ms": 200.0, "trace_id": trace,
                   "span_id": "6" * 16, "parent_span_id": "7" * 16},
                  {"id": "pr-1", "type": "server_process", "ts": now, "rss_bytes": 50 * 1024 * 1024,
                   "threads": 6, "cpu_s": 12.5, "gc_count": 40, "gc_ms": 20.0}]}).raise_for_status()
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(f"{live_server.url}/dashboard#token={live_server.admin_token}&page=server")
        row = page.locator('#linked-table tr[data-op="export"]')
        row.wait_for()
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        assert cells[:8] == ["export", "1", "250 ms", "250 ms", "200 ms", "200 ms", "50.0 ms", "50.0 ms"]
        route = page.locator('#routes-table tr[data-route="/api/export"]')
        route.wait_for()
        assert [c.strip() for c in route.locator("td").all_inner_texts()][:7] == [
            "POST /api/export", "shop-api", "1", "0 %", "200 ms", "200 ms", "200 ms"]
        assert page.locator('#traces-table tr[data-trace="' + trace + '"]').count() == 1
        process = page.locator('#processes-table tr[data-service="shop-api"]')
        process.wait_for()
        assert [c.strip() for c in process.locator("td").all_inner_texts()][:7] == [
            "shop-api", "50.0 MiB", "50.0 MiB", "6", "13 s", "40", "20.0 ms"]
        assert problems == []
    finally:
        context.close()
