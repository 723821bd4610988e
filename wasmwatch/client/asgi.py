"""ASGI middleware: one ``server_request`` per HTTP request, linked to the caller's trace.

Works for Starlette and FastAPI (the matched route's ``path`` in ``scope["route"]``, plus the
prefix of any ``Mount``) and for any ASGI app that puts the route template in
``scope["route"].path`` or ``scope["path_template"]``; otherwise give ``route=`` (a function of
the scope), or the route is ``*``: the raw path is never reported.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from wasmwatch.client._client import Client
from wasmwatch.client._default import get_client
from wasmwatch.client._trace import Span, current, new_span_id, new_trace_id, parse_traceparent

__all__ = ["ASGIMiddleware", "route_of_scope"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
UNMATCHED = "*"


def route_of_scope(scope: Scope, root_path: str = "") -> str:
    """The route template the framework matched (``/items/{id}``), or ``*``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        now = scope.get("root_path", "")
        prefix = now[len(root_path):] if isinstance(now, str) and now.startswith(root_path) else ""
        return (prefix + path) or "/"
    template = scope.get("path_template")
    return template if isinstance(template, str) else UNMATCHED


def _headers(scope: Scope) -> tuple[str | None, str | None]:
    parent = session = None
    for key, value in scope.get("headers") or ():
        if key == b"traceparent":
            parent = value.decode("latin-1")
        elif key == b"x-wasmwatch-session":
            session = value.decode("latin-1")
    return parent, session


class ASGIMiddleware:
    """``app.add_middleware(ASGIMiddleware, client=client)``, or wrap any ASGI app."""

    def __init__(self, app: ASGIApp, client: Client | None = None,
                 route: Callable[[Scope], str] | None = None) -> None:
        self.app = app
        self.client = client
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = self.client or get_client()
        if scope["type"] != "http" or client is None:
            await self.app(scope, receive, send)
            return
        ts, start = time.time() * 1000.0, time.perf_counter()
        header, session = _headers(scope)
        parent = parse_traceparent(header)
        span = Span(parent.trace_id if parent else new_trace_id(), new_span_id())
        token = current.set(span)
        root_path = scope.get("root_path", "")
        status, end = [500], [0.0]

        async def send_status(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                status[0] = message["status"]
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False):
                end[0] = time.perf_counter()  # the response is out: what the caller waited for

        try:
            await self.app(scope, receive, send_status)
        finally:
            current.reset(token)
            ms = ((end[0] or time.perf_counter()) - start) * 1000.0
            route = self._route(scope, root_path)
            client.request(route, scope.get("method", "GET"), status[0], ms, ts, span,
                           parent.span_id if parent else None, session)

    def _route(self, scope: Scope, root_path: str) -> str:
        try:
            return self.route(scope) if self.route else route_of_scope(scope, root_path)
        except Exception:
            return UNMATCHED
