"""WSGI middleware: one ``server_request`` per HTTP request, linked to the caller's trace.

The route template is read from ``environ["wasmwatch.route"]``, which the framework hook sets
once routing is done: :func:`instrument_flask` does it from Flask's ``request.url_rule``, the
Django middleware (:mod:`wasmwatch.client.django`) from the resolver match. Without one the
route is ``*``: the raw path is never reported. The request is recorded when the server closes
the response iterable (PEP 3333), so streaming bodies count in full.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from wasmwatch.client._client import Client
from wasmwatch.client._default import get_client
from wasmwatch.client._trace import Span, current, new_span_id, new_trace_id, parse_traceparent

__all__ = ["ROUTE_KEY", "WSGIMiddleware", "instrument_flask"]

ROUTE_KEY = "wasmwatch.route"
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class _Recorded:
    """The app's response iterable; records the request when the server closes it."""

    __slots__ = ("_done", "_result")

    def __init__(self, result: Iterable[bytes], done: Callable[[], None]) -> None:
        self._result, self._done = result, done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._result)

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._done()


class WSGIMiddleware:
    """``app.wsgi_app = WSGIMiddleware(app.wsgi_app, client)``, or wrap any WSGI app."""

    def __init__(self, app: WSGIApp, client: Client | None = None) -> None:
        self.app = app
        self.client = client

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        client = self.client or get_client()
        if client is None:
            return self.app(environ, start_response)
        ts, start = time.time() * 1000.0, time.perf_counter()
        parent = parse_traceparent(environ.get("HTTP_TRACEPARENT"))
        span = Span(parent.trace_id if parent else new_trace_id(), new_span_id())
        status = [500]

        def start_status(line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = int(line[:3]) if line[:3].isdigit() else 500
            return start_response(line, headers, exc_info) if exc_info else start_response(line, headers)

        def done() -> None:
            ms = (time.perf_counter() - start) * 1000.0
            route = environ.get(ROUTE_KEY)
            client.request(route if isinstance(route, str) and route else "*",
                           environ.get("REQUEST_METHOD", "GET"), status[0], ms, ts, span,
                           parent.span_id if parent else None,
                           environ.get("HTTP_X_WASMWATCH_SESSION"))

        token = current.set(span)
        try:
            result = self.app(environ, start_status)
        except BaseException:
            status[0] = 500
            done()
            raise
        finally:
            current.reset(token)
        return _Recorded(result, done)


def instrument_flask(app: Any, client: Client | None = None) -> Any:
    """Wrap a Flask app's ``wsgi_app`` and report its routes' ``url_rule`` templates."""
    from flask import request  # lazily: only Flask users have Flask

    def remember_route() -> None:
        rule = request.url_rule
        if rule is not None:
            request.environ[ROUTE_KEY] = rule.rule

    app.before_request(remember_route)
    app.wsgi_app = WSGIMiddleware(app.wsgi_app, client)
    return app
