"""ASGI middleware: one ``server_request`` per HTTP request, linked to the caller's trace.

Works for Starlette and FastAPI (the matched route's ``path`` in ``scope["route"]``, plus the
prefix of any ``Mount``) and for any ASGI app that puts the route template in
``scope["route"].path`` or ``scope["path_template"]`` (Litestar); otherwise give ``route=``
(a function of the scope), or the route is ``*``: the raw path is never reported.

The request path only takes two ``perf_counter_ns`` readings, 192 random bits and the scope,
and appends one tuple to the sender's queue; the route template, the ``traceparent`` and the
session header are read from the scope, and the item written, on the sender thread. (So the
route comes from the scope as the app left it; the headers list is the one the server gave.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from random import getrandbits
from time import perf_counter_ns
from typing import Any

from wasmwatch.client import _default
from wasmwatch.client._client import Client, log
from wasmwatch.client._route import UNMATCHED, asgi_route
from wasmwatch.client._trace import RequestSpan, current

__all__ = ["ASGIMiddleware", "route_of_scope"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
route_of_scope = asgi_route


class ASGIMiddleware:
    """``app.add_middleware(ASGIMiddleware, client=client)``, or wrap any ASGI app."""

    def __init__(self, app: ASGIApp, client: Client | None = None,
                 route: Callable[[Scope], str] | None = None) -> None:
        self.app = app
        self.client = client
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = self.client or _default._client
        if client is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter_ns()
        span = RequestSpan(getrandbits(192), scope.get("headers"))
        root_path = scope.get("root_path", "")
        status, end = 500, 0

        async def send_status(message: Message) -> None:
            nonlocal status, end
            if message["type"] == "http.response.start":
                status = message["status"]
                await send(message)
                return
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                end = perf_counter_ns()  # the response is out: what the caller waited for

        token = current.set(span)
        try:
            await self.app(scope, receive, send_status)
        finally:
            current.reset(token)
            self._record(client, start, end or perf_counter_ns(), status, span, scope, root_path)

    def _record(self, client: Client, start: int, end: int, status: int, span: RequestSpan,
                scope: Scope, root_path: str) -> None:
        try:
            if self.route is None:  # the sender reads route and method from the scope
                client.sender.submit((start, end, status, span, None, None, scope, root_path))
                return
            try:
                route = self.route(scope)
            except Exception:
                route = UNMATCHED
            client.sender.submit((start, end, status, span, scope.get("method", "GET"), route,
                                  None, ""))
        except Exception:
            log.exception("wasmwatch: could not record a request")
