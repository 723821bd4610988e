"""WSGI middleware: one ``server_request`` per HTTP request, linked to the caller's trace.

The route template is read from ``environ["wasmwatch.route"]``, which the framework hook sets
once routing is done: :func:`instrument_flask` does it when Flask matches the request's
``url_rule``, the Django middleware (:mod:`wasmwatch.client.django`) from the resolver match.
Without one the route is ``*``: the raw path is never reported. The request is recorded when
the server closes the response iterable (PEP 3333), so streaming bodies count in full.

The request path takes two ``perf_counter_ns`` readings, 192 random bits and four ``environ``
values, and appends one tuple to the sender's queue; the ``traceparent`` is parsed and the
item written on the sender thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from random import getrandbits
from time import perf_counter_ns
from typing import Any

from wasmwatch.client import _default
from wasmwatch.client._client import Client, log
from wasmwatch.client._trace import RequestSpan, current

__all__ = ["ROUTE_KEY", "WSGIMiddleware", "instrument_flask"]

ROUTE_KEY = "wasmwatch.route"
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class _Call:
    """One request: wraps ``start_response`` (for the status) and the app's response iterable
    (to record the request when the server closes it)."""

    __slots__ = ("client", "environ", "result", "span", "start", "start_response", "status")

    def __init__(self, client: Client, environ: Environ, start_response: StartResponse) -> None:
        self.client, self.environ, self.start_response = client, environ, start_response
        self.status: str | int = 500
        self.result: Iterable[bytes] = ()
        self.span = RequestSpan(getrandbits(192), environ.get("HTTP_TRACEPARENT"),
                                environ.get("HTTP_X_WASMWATCH_SESSION"))
        self.start = perf_counter_ns()

    def started(self, line: str, headers: Any, exc_info: Any = None) -> Any:
        self.status = line  # the sender thread reads the code from it
        if exc_info:
            return self.start_response(line, headers, exc_info)
        return self.start_response(line, headers)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.done()

    def done(self) -> None:
        end, environ = perf_counter_ns(), self.environ
        route = environ.get(ROUTE_KEY)
        try:
            self.client.sender.submit((
                self.start, end, self.status, self.span, environ.get("REQUEST_METHOD", "GET"),
                route if type(route) is str and route else "*", None, ""))
        except Exception:
            log.exception("wasmwatch: could not record a request")


class WSGIMiddleware:
    """``app.wsgi_app = WSGIMiddleware(app.wsgi_app, client)``, or wrap any WSGI app."""

    def __init__(self, app: WSGIApp, client: Client | None = None) -> None:
        self.app = app
        self.client = client

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        client = self.client or _default._client
        if client is None:
            return self.app(environ, start_response)
        call = _Call(client, environ, start_response)
        token = current.set(call.span)
        try:
            call.result = self.app(environ, call.started)
        except BaseException:
            call.status = 500
            call.done()
            raise
        finally:
            current.reset(token)
        return call


def _routed_request(base: type) -> type:
    """Flask's request class, with ``url_rule`` noted in the environ when Flask sets it."""

    def get_rule(self: Any) -> Any:
        return self.__dict__.get("_wasmwatch_rule")

    def set_rule(self: Any, rule: Any) -> None:
        self.__dict__["_wasmwatch_rule"] = rule
        if rule is not None:
            self.environ[ROUTE_KEY] = rule.rule

    return type(base.__name__, (base,), {"url_rule": property(get_rule, set_rule),
                                         "__module__": base.__module__,
                                         "__doc__": base.__doc__})


def instrument_flask(app: Any, client: Client | None = None) -> Any:
    """Wrap a Flask app's ``wsgi_app`` and report its routes' ``url_rule`` templates (taken
    when Flask matches the request: a property on the app's ``request_class``)."""
    if not getattr(app.request_class, "_wasmwatch_routed", False):
        app.request_class = _routed_request(app.request_class)
        app.request_class._wasmwatch_routed = True
    app.wsgi_app = WSGIMiddleware(app.wsgi_app, client)
    return app
