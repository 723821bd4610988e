"""Trace context parsing, statement normalizing, spans, and the standard-library-only import."""

from __future__ import annotations

import json
import subprocess
import sys

from wasmwatch.client import Client, Span, current, parse_traceparent
from wasmwatch.client._statement import normalize, operation_name


def test_traceparent_is_parsed_or_refused() -> None:
    """A valid traceparent gives (trace, parent span); bad versions, ids, case and shapes give
    None; a future version's extra fields are ignored."""
    trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    assert parse_traceparent(f"00-{trace}-{span}-01") == Span(trace, span)
    assert parse_traceparent(f"01-{trace}-{span}-00-future") == Span(trace, span)
    for bad in (f"ff-{trace}-{span}-01", f"00-{'0' * 32}-{span}-01", f"00-{trace}-{'0' * 16}-01",
                f"00-{trace}-{span}", f"00-{trace.upper()}-{span}-01", f"00-{trace}-{span}-01-x",
                f"00-{trace[:-1]}g-{span}-01", "garbage", "", None):
        assert parse_traceparent(bad) is None


def test_statement_literals_are_replaced() -> None:
    """String and number literals become ?, names with digits stay, whitespace is folded."""
    sql = "SELECT  t1.a FROM users2 WHERE email = 'bob@example.com' AND age > 42\n AND x = -1.5e3"
    assert normalize(sql) == "SELECT t1.a FROM users2 WHERE email = ? AND age > ? AND x = ?"
    assert normalize("INSERT INTO t VALUES ('it''s', 0x1F)") == "INSERT INTO t VALUES (?, ?)"
    assert operation_name("update \"Orders\" SET a = ?") == "UPDATE Orders"
    assert operation_name("BEGIN") == "BEGIN"


def test_span_nests_and_marks_failure() -> None:
    """Spans inside spans share the trace; an exception marks the span failed and propagates."""
    client = Client("http://127.0.0.1:9", "k", service="s", poll_interval_s=0)
    client.sender.start = lambda: None  # type: ignore[method-assign]  # inspect the queue
    try:
        with client.span("outer") as outer, client.span("inner") as inner:
            assert current.get() == inner
            raise ValueError("x")
    except ValueError:
        pass
    assert current.get() is None
    inner_item, outer_item = [json.loads(client._wire(e)) for e in client.sender.queue]
    assert inner_item["trace_id"] == outer_item["trace_id"] == outer.trace_id
    assert inner_item["parent_span_id"] == outer.span_id and "parent_span_id" not in outer_item
    assert inner_item["ok"] is False and outer_item["ok"] is False


def test_importing_the_client_loads_no_server_dependency() -> None:
    """wasmwatch.client and its hooks import with the standard library only."""
    code = ("import sys, wasmwatch.client, wasmwatch.client.django, wasmwatch.client.sqlalchemy;"
            "bad = [m for m in ('msgspec', 'duckdb', 'pyarrow', 'numpy', 'granian', 'prometheus_client',"
            " 'starlette', 'flask', 'django', 'sqlalchemy') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_a_broken_client_never_breaks_the_app() -> None:
    """When queueing itself fails, the request is still answered, unchanged."""
    import httpx
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from wasmwatch.client import ASGIMiddleware

    client = Client("http://127.0.0.1:9", "k", service="s", poll_interval_s=0)

    def explode(item: object) -> bool:
        raise RuntimeError("queue on fire")

    client.sender.submit = explode  # type: ignore[method-assign]
    app = Starlette(routes=[Route("/x/{n}", lambda r: PlainTextResponse("fine"))],
                    middleware=[Middleware(ASGIMiddleware, client=client)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        r = await http.get("/x/1", headers={"traceparent": "garbage"})
    assert (r.status_code, r.text) == (200, "fine")
