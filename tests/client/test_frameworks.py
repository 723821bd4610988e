"""The middleware in real apps on real servers, reporting to a real `wasmwatch serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.client.apps import Views, asgi_app, sqlite_items, uvicorn_serving, waitress_serving, wsgi_app
from tests.client.conftest import wait_items
from tests.conftest import LiveServer
from wasmwatch.client import Client, set_client

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def starlette_url(reporter: Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("sqlite") / "app.db"
    app = asgi_app("starlette", reporter, Views(item=sqlite_items(reporter, Path(db))))
    with uvicorn_serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def flask_url(reporter: Client) -> Iterator[str]:
    set_client(reporter)  # for wasmwatch.client.span inside the view
    try:
        with waitress_serving(wsgi_app("flask", reporter, Views())) as url:
            yield url
    finally:
        set_client(None)


def test_starlette_request_joins_the_callers_trace(ww: LiveServer, reporter: Client,
                                                   starlette_url: str) -> None:
    """A request with traceparent and session is stored under that trace with its route template,
    and the SQLAlchemy query it ran is a child span with its literals replaced."""
    headers = {"traceparent": f"00-{TRACE}-{PARENT}-01", "x-wasmwatch-session": "tab-42"}
    r = httpx.get(starlette_url + "/api/items/2", headers=headers)
    assert r.json() == {"name": "two"}
    reporter.flush()  # hurries delivery along; wait_items waits for the stored rows
    (req,) = wait_items(ww, 1, type="server_request", trace_id=TRACE)
    assert (req["name"], req["method"], req["status"], req["ok"]) == ("/api/items/{id:int}", "GET", 200, True)
    assert (req["parent_span_id"], req["session"], req["service"], req["release"]) == (
        PARENT, "tab-42", "shop-api", "2.0.1")
    assert req["ms"] > 0 and len(req["span_id"]) == 16
    (query,) = wait_items(ww, 1, type="server_span", trace_id=TRACE)
    assert (query["kind"], query["name"], query["parent_span_id"]) == ("query", "SELECT things", req["span_id"])
    assert query["statement"] == "SELECT name FROM things WHERE id = ? AND name != ?"


def test_starlette_failure_mount_and_unmatched_routes(ww: LiveServer, reporter: Client,
                                                      starlette_url: str) -> None:
    """A raising route is a 500 (not ok), a mounted route has its prefix, an unknown path is *."""
    assert httpx.get(starlette_url + "/boom").status_code == 500
    assert httpx.get(starlette_url + "/v2/things/abc").status_code == 200
    assert httpx.get(starlette_url + "/no/such/path/secret-token").status_code == 404
    reporter.flush()  # hurries delivery along; wait_items waits for the stored rows
    for route, status in (("/boom", 500), ("/v2/things/{name}", 200), ("*", 404)):
        (row,) = wait_items(ww, 1, type="server_request", name=route)
        assert (row["status"], row["ok"]) == (status, status < 500)
        assert len(row["trace_id"]) == 32 and row["parent_span_id"] is None
    assert not [r for r in ww.items(type="server_request") if "secret" in r["name"]]


def test_flask_request_with_a_span(ww: LiveServer, reporter: Client, flask_url: str) -> None:
    """Flask's url_rule is the route; a span inside the view nests under the request."""
    trace = "a" * 31 + "1"
    headers = {"traceparent": f"00-{trace}-{PARENT}-01", "x-wasmwatch-session": "tab-9"}
    assert httpx.get(flask_url + "/api/users/7", headers=headers).json() == {"id": 7}
    assert httpx.post(flask_url + "/api/save").status_code == 201
    reporter.flush()  # hurries delivery along; wait_items waits for the stored rows
    (req,) = wait_items(ww, 1, type="server_request", trace_id=trace)
    assert (req["name"], req["status"], req["parent_span_id"], req["session"]) == (
        "/api/users/<int:user_id>", 200, PARENT, "tab-9")
    (sp,) = wait_items(ww, 1, type="server_span", trace_id=trace)
    assert (sp["name"], sp["kind"], sp["parent_span_id"], sp["tags"]) == (
        "load_user", "span", req["span_id"], '{"cache":"miss"}')
    (save,) = wait_items(ww, 1, type="server_request", name="/api/save")
    assert (save["method"], save["status"]) == ("POST", 201)


def test_process_samples_arrive(ww: LiveServer, reporter: Client, starlette_url: str) -> None:
    """The client's poller reports the app process's memory, CPU, threads and GC."""
    rows = wait_items(ww, 1, type="server_process")
    assert rows, "no server_process item arrived"
    row = rows[-1]
    assert row["rss_bytes"] > 1_000_000 and row["threads"] >= 1 and row["cpu_s"] > 0
    assert row["service"] == "shop-api" and row["gc_count"] is not None
