"""Django behind wsgiref (a real WSGI server) with the wasmwatch middleware and query timer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.client.apps import Views, wsgi_app, wsgiref_serving
from tests.client.conftest import wait_items
from tests.conftest import LiveServer
from wasmwatch.client import Client, set_client

TRACE = "c" * 31 + "d"


def next_value(item_id: int) -> Any:
    """The item view's lookup: one query through Django's own cursor, literals and a param."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT %s + 1 WHERE 'a' = 'a'", [item_id])
        (value,) = cursor.fetchone()
    return value


@pytest.fixture(scope="module")
def django_url(reporter: Client) -> Iterator[str]:
    set_client(reporter)
    try:
        with wsgiref_serving(wsgi_app("django", reporter, Views(item=next_value))) as url:
            yield url
    finally:
        set_client(None)


def test_django_route_and_query_are_linked(ww: LiveServer, reporter: Client, django_url: str) -> None:
    """The resolver's route is the template; the cursor's query is a child span without literals."""
    headers = {"traceparent": f"00-{TRACE}-{'1' * 16}-01", "x-wasmwatch-session": "tab-3"}
    assert httpx.get(django_url + "/api/items/41", headers=headers).json() == {"name": 42}
    assert httpx.get(django_url + "/nope").status_code == 404
    reporter.flush()  # hurries delivery along; wait_items waits for the stored rows
    (req,) = wait_items(ww, 1, type="server_request", trace_id=TRACE)
    assert (req["name"], req["status"], req["parent_span_id"], req["session"]) == (
        "/api/items/<int:id>", 200, "1" * 16, "tab-3")
    (query,) = wait_items(ww, 1, type="server_span", trace_id=TRACE)
    assert (query["kind"], query["parent_span_id"]) == ("query", req["span_id"])
    assert query["statement"] == "SELECT %s + ? WHERE ? = ?"
    (missing,) = wait_items(ww, 1, type="server_request", name="*")
    assert missing["status"] == 404
