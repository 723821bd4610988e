"""wasmwatch.client: report a Python app server's requests, spans and queries to wasmwatch.

Standard library only; the framework hooks import their framework when called. Nothing here
blocks the host app or raises into it: items go to a bounded queue that a background thread
delivers in gzip batches (see :mod:`wasmwatch.client._sender`).

::

    from wasmwatch.client import ASGIMiddleware, init
    client = init("http://127.0.0.1:8787", "pk_...", service="shop-api", release="2.0.1")
    app.add_middleware(ASGIMiddleware, client=client)            # Starlette, FastAPI

    from wasmwatch.client import instrument_flask
    instrument_flask(flask_app, client)                          # Flask

A request that carries a W3C ``traceparent`` (the browser SDK adds one to same-origin fetches
inside ``track()``) is recorded in that trace, so the operation and the server requests it
caused share a trace id; ``X-WasmWatch-Session`` is kept as the request's session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from wasmwatch.client._client import Client
from wasmwatch.client._default import get_client, init, set_client
from wasmwatch.client._sender import Answer, Transport
from wasmwatch.client._trace import Span, current, parse_traceparent
from wasmwatch.client.asgi import ASGIMiddleware
from wasmwatch.client.wsgi import WSGIMiddleware, instrument_flask

__all__ = ["ASGIMiddleware", "Answer", "Client", "Span", "Transport", "WSGIMiddleware",
           "current", "execute", "get_client", "init", "instrument_flask", "parse_traceparent",
           "set_client", "span"]


def execute(name: str, ms: float, **tags: Any) -> None:
    """Record a custom server event on the process-wide client (a no-op without one)."""
    client = get_client()
    if client is not None:
        client.execute(name, ms, **tags)


@contextmanager
def span(name: str, **tags: Any) -> Iterator[Span | None]:
    """Time the block as a span on the process-wide client (just runs it without one)."""
    client = get_client()
    if client is None:
        yield None
        return
    with client.span(name, **tags) as mine:
        yield mine
