"""Litestar on uvicorn with the ASGI middleware: its path template is the route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.client.apps import uvicorn_serving
from tests.client.conftest import wait_items
from tests.conftest import LiveServer
from wasmwatch.client import ASGIMiddleware, Client

TRACE = "e" * 31 + "f"


def litestar_app(client: Client) -> Any:
    from litestar import Litestar, get
    from litestar.middleware import DefineMiddleware
    from litestar.params import FromPath

    @get("/orders/{order_id:int}", sync_to_thread=False)
    def order(order_id: FromPath[int]) -> dict[str, int]:
        return {"id": order_id}

    @get("/hello", sync_to_thread=False)
    def hello() -> str:
        return "hi"

    # logging_config=None: Litestar would otherwise configure the process's logging
    return Litestar([order, hello], middleware=[DefineMiddleware(ASGIMiddleware, client=client)],
                    logging_config=None)


@pytest.fixture(scope="module")
def litestar_url(reporter: Client) -> Iterator[str]:
    with uvicorn_serving(litestar_app(reporter)) as url:
        yield url


def test_litestar_path_template_is_the_route(ww: LiveServer, reporter: Client, litestar_url: str) -> None:
    """A Litestar request is stored under its path template, in the caller's trace."""
    headers = {"traceparent": f"00-{TRACE}-{'2' * 16}-01"}
    assert httpx.get(litestar_url + "/orders/12", headers=headers).json() == {"id": 12}
    assert reporter.flush()
    (req,) = wait_items(ww, 1, type="server_request", trace_id=TRACE)
    assert (req["name"], req["status"], req["parent_span_id"]) == ("/orders/{order_id}", 200, "2" * 16)
