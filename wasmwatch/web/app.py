"""The ASGI application: a route table, CORS for ingest, and errors mapped in one place."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from wasmwatch.errors import ClientError, MethodNotAllowed, NotFound, StoreError
from wasmwatch.runtime import Runtime
from wasmwatch.telemetry import bus
from wasmwatch.web import admin, alerts, backend, ingest, insights, otlp, query, rsgi, static, symbols
from wasmwatch.web.http import Request, Response, error_response
from wasmwatch.web.types import Receive, Scope, Send

log = logging.getLogger(__name__)
Handler = Callable[[Runtime, Request], Awaitable[Response]]
#: sends a response with extra headers (ASGI's ``send`` or RSGI's protocol behind it)
Reply = Callable[[Response, Mapping[str, str]], Awaitable[None]]
_REQUEST = ("wasmwatch", "http", "request")
_START, _STOP, _EXCEPTION = ((*_REQUEST, end) for end in ("start", "stop", "exception"))
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"))

#: path -> {method: handler}; paths ending in "/" match every path below them
ROUTES: dict[str, dict[str, Handler]] = {
    "/api/v1/ingest": {"POST": ingest.batch},
    "/api/telemetry/wasm": {"POST": ingest.seed_single},
    "/api/telemetry/wasm/bulk": {"POST": ingest.seed_bulk},
    "/v1/traces": {"POST": otlp.traces},
    "/v1/metrics": {"POST": otlp.metrics},
    "/v1/logs": {"POST": otlp.logs},
    "/api/v1/summary": {"GET": query.summary},
    "/api/v1/series": {"GET": query.series},
    "/api/v1/errors": {"GET": query.errors},
    "/api/v1/items": {"GET": query.items},
    "/api/v1/symbols": {"GET": symbols.listing, "POST": symbols.upload},
    "/api/v1/stream": {"GET": query.stream},
    "/api/v1/releases": {"GET": insights.releases},
    "/api/v1/errors/state": {"POST": insights.error_state},
    "/api/v1/session": {"GET": insights.session},
    "/api/v1/insights": {"GET": insights.insights},
    "/api/v1/routes": {"GET": backend.routes},
    "/api/v1/linked": {"GET": backend.linked},
    "/api/v1/alerts": {"GET": alerts.alerts},
    "/api/v1/alerts/test": {"POST": alerts.test},
    "/api/v1/rules": {"GET": alerts.rules},
    "/api/v1/silences": {"GET": alerts.silences, "POST": alerts.silences},
    "/api/v1/silences/": {"DELETE": alerts.silence},
    "/api/v1/admin/log-levels": {"GET": query.log_levels, "PUT": query.log_levels},
    "/api/v1/projects": {"GET": admin.projects, "POST": admin.projects},
    "/api/v1/projects/": {"GET": admin.project, "POST": admin.project, "PATCH": admin.project},
    "/api/v1/keys": {"GET": admin.keys},
    "/api/v1/keys/": {"DELETE": admin.key},
    "/metrics": {"GET": query.metrics},
    "/healthz": {"GET": query.healthz},
    "/readyz": {"GET": query.readyz},
    "/openapi.json": {"GET": static.openapi},
    "/sdk/": {"GET": static.sdk},
    "/demo/config.js": {"GET": static.demo_config},
    "/demo/": {"GET": static.demo},
    "/dashboard": {"GET": static.dashboard},
    "/dashboard/": {"GET": static.dashboard},
    "/": {"GET": static.index},
}
_PREFIXES = sorted((p for p in ROUTES if p.endswith("/") and p != "/"), key=len, reverse=True)
#: OTLP/HTTP: browser OpenTelemetry exporters send a preflight (JSON body, key header)
OTLP_PATHS = ("/v1/traces", "/v1/metrics", "/v1/logs")
CORS_PATHS = ("/api/v1/ingest", "/api/telemetry/wasm", "/api/telemetry/wasm/bulk", *OTLP_PATHS)
CORS_HEADERS = {
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": "content-type, content-encoding, x-wasmwatch-key",
    "access-control-expose-headers": "retry-after",
    "access-control-max-age": "86400",
}


def route_of(path: str) -> str | None:
    if path in ROUTES:
        return path
    for prefix in _PREFIXES:
        if path.startswith(prefix) or path == prefix[:-1]:
            return prefix
    return None


def _on_ingest_node(route: str) -> bool:
    """An ingest node (``--role ingest``) serves ingest, its own health, metrics and log
    levels, the SDK; the query, alerting and admin APIs are the evaluator's."""
    return (route in CORS_PATHS or route.startswith("/api/v1/admin/")
            or not route.startswith("/api/"))


def cors_headers(request: Request, route: str | None) -> dict[str, str]:
    if route not in CORS_PATHS:
        return {}
    headers = {"access-control-allow-origin": request.headers.get("origin", "*"), "vary": "origin",
               **CORS_HEADERS}
    if route in OTLP_PATHS:  # the key may come as Authorization: Bearer there
        headers["access-control-allow-headers"] += ", authorization"
    return headers


class App:
    """ASGI callable; the runtime starts on lifespan startup and stops on shutdown."""

    def __init__(self, runtime: Runtime, on_started: Callable[[Runtime], None] | None = None) -> None:
        self.runtime = runtime
        self.on_started = on_started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.runtime.start()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                if self.on_started:
                    self.on_started(self.runtime)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.runtime.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, self.runtime.settings.body_timeout_s)
        await self.serve(request, lambda response, extra: response(send, extra))

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        """granian's RSGI entry (``wasmwatch serve``): the same handlers, fewer objects per
        request than ASGI (:mod:`wasmwatch.web.rsgi`)."""
        headers = dict(scope.headers.items())
        declared = headers.get("content-length")
        request = Request(rsgi.scope_of(scope), rsgi.Receiver(proto, bool(declared)),
                          self.runtime.settings.body_timeout_s, headers)
        await self.serve(request, lambda response, extra: response.rsgi(proto, extra))

    async def serve(self, request: Request, reply: Reply) -> None:
        """Answer one request with ``reply``, timed as the ``wasmwatch.http.request`` span (as
        ``bus.span`` times a block, without its objects: this runs once per ingest request)."""
        route = route_of(request.path)
        # the method is the client's word: only known ones become a /metrics label
        method = request.method if request.method in _METHODS else "other"
        meta: dict[str, object] = {"route": route or "unmatched", "method": method}
        the_bus = bus.default_bus
        start = the_bus.clock()
        if the_bus.has_handlers(_START):
            the_bus.execute(_START, {"monotonic_time": start}, meta)
        try:
            response = await self.respond(request, route)
            meta["status"] = response.status
            await reply(response, cors_headers(request, route))
        except BaseException as exc:
            if the_bus.has_handlers(_EXCEPTION):
                end = the_bus.clock()
                the_bus.execute(_EXCEPTION, {"duration": end - start, "monotonic_time": end},
                                {**meta, "kind": type(exc).__name__, "reason": str(exc),
                                 "exception": exc})
            raise
        if the_bus.has_handlers(_STOP):
            end = the_bus.clock()
            the_bus.execute(_STOP, {"duration": end - start, "monotonic_time": end}, meta)

    async def respond(self, request: Request, route: str | None) -> Response:
        try:
            if route is None:
                raise NotFound(f"no such path: {request.path}")
            if self.runtime.role == "ingest" and not _on_ingest_node(route):
                raise NotFound(f"{route} is served by the evaluator node; this is an ingest node")
            if request.method == "OPTIONS" and route in CORS_PATHS:
                return Response(b"", 204)
            methods = ROUTES[route]
            handler = methods.get("GET" if request.method == "HEAD" else request.method)
            if handler is None and route in _PREFIXES and len(set(methods.values())) == 1 < len(methods):
                handler = next(iter(methods.values()))  # it dispatches (and refuses) per path
            if handler is None:
                allow = ", ".join([*methods, "HEAD"] if "GET" in methods else methods)
                raise MethodNotAllowed(f"{request.method} is not allowed on {route}; "
                                       f"use {allow}", {"allow": allow})
            return await handler(self.runtime, request)
        except ClientError as exc:
            return error_response(exc.status, exc.message, exc.headers)
        except StoreError as exc:
            log.error("store unavailable: %s", exc)
            return error_response(503, "store unavailable, retry later", {"retry-after": "5"})
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(500, "internal error")
