"""Django: a middleware that reports each request's route and times its database queries.

Put ``"wasmwatch.client.django.WasmWatchMiddleware"`` first in ``MIDDLEWARE`` and call
:func:`wasmwatch.client.init` at start (e.g. in ``settings.py`` or ``wsgi.py``). Served by a
WSGI server, the request is recorded by :class:`~wasmwatch.client.wsgi.WSGIMiddleware` when
the WSGI app is wrapped with it (``application = WSGIMiddleware(get_wsgi_application())``):
this middleware then only adds the route template (``request.resolver_match.route``) and the
query timing. Without the WSGI wrapper (ASGI Django, or not wrapped) it records the request
itself, linked the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from random import getrandbits
from typing import Any

from wasmwatch.client._client import Client, log
from wasmwatch.client._default import get_client
from wasmwatch.client._trace import RequestSpan, current
from wasmwatch.client.wsgi import ROUTE_KEY

__all__ = ["QueryTimer", "WasmWatchMiddleware"]


class QueryTimer:
    """A Django ``execute_wrapper``: times each query and reports it as a span."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool,
                 context: Any) -> Any:
        start, ok = time.perf_counter(), True
        try:
            return execute(sql, params, many, context)
        except BaseException:
            ok = False
            raise
        finally:
            self.client.query(sql, (time.perf_counter() - start) * 1000.0, ok)


def _route(request: Any) -> str:
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    return "/" + route.lstrip("^").rstrip("$").lstrip("/") if isinstance(route, str) else "*"


class WasmWatchMiddleware:
    def __init__(self, get_response: Callable[[Any], Any], client: Client | None = None) -> None:
        self.get_response = get_response
        self.client = client

    def __call__(self, request: Any) -> Any:
        client = self.client or get_client()
        if client is None:
            return self.get_response(request)
        wrapped = ROUTE_KEY in request.META or current.get() is not None
        with ExitStack() as stack:
            from django.db import connections  # lazily: only Django users have Django

            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(QueryTimer(client)))
            if wrapped:
                return self._routed(request)
            return self._recorded(request, client)

    def _routed(self, request: Any) -> Any:
        response = self.get_response(request)
        request.META[ROUTE_KEY] = _route(request)
        return response

    def _recorded(self, request: Any, client: Client) -> Any:
        meta = request.META
        span = RequestSpan(getrandbits(192), meta.get("HTTP_TRACEPARENT"),
                           meta.get("HTTP_X_WASMWATCH_SESSION"))
        token, status, start = current.set(span), 500, time.perf_counter_ns()
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            current.reset(token)
            end = time.perf_counter_ns()
            try:
                client.sender.submit((start, end, status, span, request.method or "GET",
                                      _route(request), None, ""))
            except Exception:
                log.exception("wasmwatch: could not record a request")
