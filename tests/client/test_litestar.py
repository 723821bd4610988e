"""Litestar and FastAPI on uvicorn with the ASGI middleware: the path template is the route."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.client.apps import Views, asgi_app, uvicorn_serving
from tests.client.conftest import wait_items
from tests.conftest import LiveServer
from wasmwatch.client import Client

TRACE = "e" * 31 + "f"


@pytest.fixture(scope="module")
def litestar_url(reporter: Client) -> Iterator[str]:
    with uvicorn_serving(asgi_app("litestar", reporter, Views())) as url:
        yield url


def test_litestar_path_template_is_the_route(ww: LiveServer, reporter: Client, litestar_url: str) -> None:
    """A Litestar request is stored under its path template, in the caller's trace."""
    headers = {"traceparent": f"00-{TRACE}-{'2' * 16}-01"}
    assert httpx.get(litestar_url + "/api/users/12", headers=headers).json() == {"id": 12}
    reporter.flush()  # hurries delivery along; wait_items waits for the stored rows
    (req,) = wait_items(ww, 1, type="server_request", trace_id=TRACE)
    assert (req["name"], req["status"], req["parent_span_id"]) == ("/api/users/{user_id}", 200, "2" * 16)


@pytest.fixture(scope="module")
def fastapi_url(reporter: Client) -> Iterator[str]:
    with uvicorn_serving(asgi_app("fastapi", reporter, Views())) as url:
        yield url


def test_fastapi_route_template_with_its_router_prefix(ww: LiveServer, reporter: Client,
                                                        fastapi_url: str) -> None:
    """A FastAPI request is stored under its APIRoute's template (a router's prefix included),
    in the caller's trace; a failing route is a 500."""
    trace = "f" * 31 + "e"
    headers = {"traceparent": f"00-{trace}-{'3' * 16}-01", "x-wasmwatch-session": "tab-5"}
    assert httpx.get(fastapi_url + "/v2/api/users/5", headers=headers).json() == {"id": 5}
    with pytest.raises(httpx.HTTPError):  # (uvicorn drops the connection or answers 500)
        httpx.get(fastapi_url + "/boom").raise_for_status()
    reporter.flush()  # hurries delivery along; wait_items waits for the stored rows
    (req,) = wait_items(ww, 1, type="server_request", trace_id=trace)
    assert (req["name"], req["status"], req["parent_span_id"], req["session"]) == (
        "/v2/api/users/{user_id}", 200, "3" * 16, "tab-5")
    (boom,) = wait_items(ww, 1, type="server_request", name="/boom")
    assert (boom["status"], boom["ok"]) == (500, False)
