"""Litestar on uvicorn with the ASGI middleware: its path template is the route."""

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
