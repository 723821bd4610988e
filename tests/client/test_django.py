"""Django behind wsgiref (a real WSGI server) with the wasmwatch middleware and query timer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest

from tests.client.apps import wait_up
from tests.client.conftest import wait_items
from tests.conftest import LiveServer, free_port
from wasmwatch.client import Client, WSGIMiddleware, set_client

TRACE = "c" * 31 + "d"


def item_view(request: Any, item_id: int) -> Any:
    from django.db import connection
    from django.http import JsonResponse

    with connection.cursor() as cursor:
        cursor.execute("SELECT %s + 1 WHERE 'a' = 'a'", [item_id])
        (value,) = cursor.fetchone()
    return JsonResponse({"next": value})


def hello(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse("hi")


urlpatterns: list[Any] = []


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def django_url(reporter: Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import django
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.urls import path

    if not settings.configured:
        db = Path(tmp_path_factory.mktemp("django")) / "db.sqlite3"
        settings.configure(
            DEBUG=False, ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__, SECRET_KEY="test",
            MIDDLEWARE=["wasmwatch.client.django.WasmWatchMiddleware"], INSTALLED_APPS=[],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db)}})
        django.setup()
    urlpatterns[:] = [path("api/items/<int:item_id>", item_view), path("hello", hello)]
    set_client(reporter)
    server: WSGIServer = make_server("127.0.0.1", free_port(), WSGIMiddleware(get_wsgi_application()),
                                     handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        wait_up(url + "/hello")
        yield url
    finally:
        server.shutdown()
        server.server_close()
        set_client(None)


def test_django_route_and_query_are_linked(ww: LiveServer, reporter: Client, django_url: str) -> None:
    """The resolver's route is the template; the cursor's query is a child span without literals."""
    headers = {"traceparent": f"00-{TRACE}-{'1' * 16}-01", "x-wasmwatch-session": "tab-3"}
    assert httpx.get(django_url + "/api/items/41", headers=headers).json() == {"next": 42}
    assert httpx.get(django_url + "/nope").status_code == 404
    assert reporter.flush()
    (req,) = wait_items(ww, 1, type="server_request", trace_id=TRACE)
    assert (req["name"], req["status"], req["parent_span_id"], req["session"]) == (
        "/api/items/<int:item_id>", 200, "1" * 16, "tab-3")
    (query,) = wait_items(ww, 1, type="server_span", trace_id=TRACE)
    assert (query["kind"], query["parent_span_id"]) == ("query", req["span_id"])
    assert query["statement"] == "SELECT %s + ? WHERE ? = ?"
    (missing,) = wait_items(ww, 1, type="server_request", name="*")
    assert missing["status"] == 404
