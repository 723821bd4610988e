"""Handlers (admin token) for the app's own server: route latency and its processes, and
client operations split into client, server and network time by trace
(:mod:`wasmwatch.query.backend`)."""

from __future__ import annotations

from typing import Any

from wasmwatch.errors import BadRequest
from wasmwatch.query.backend import linked as linked_view
from wasmwatch.query.backend import processes as processes_view
from wasmwatch.query.backend import routes as routes_view
from wasmwatch.runtime import Runtime
from wasmwatch.web.http import Request, Response, json_response
from wasmwatch.web.query import project_of, read, span


async def routes(rt: Runtime, request: Request) -> Response:
    """Per server route (service, method, template): count, failures, p50/p95/p99; and per
    service its newest process sample (``processes``)."""
    rt.authorize_admin(request)
    window_s, now = span(rt, request, "1h")
    args: dict[str, Any] = dict(project=project_of(rt, request), from_ms=now - window_s * 1000,
                                to_ms=now, service=request.query.get("service") or None)

    def both(con: Any) -> dict[str, Any]:
        return {**routes_view(con, **args), "processes": processes_view(con, **args)}

    return json_response(await read(rt, both))


async def linked(rt: Runtime, request: Request) -> Response:
    """Per client operation: client vs server vs network ms; the newest linked traces."""
    rt.authorize_admin(request)
    window_s, now = span(rt, request, "1h")
    try:
        limit = max(1, min(200, int(request.query.get("limit", "50"))))
    except ValueError as exc:
        raise BadRequest("limit: expected an integer") from exc
    args: dict[str, Any] = dict(project=project_of(rt, request), from_ms=now - window_s * 1000,
                                to_ms=now, operation=request.query.get("operation") or None,
                                limit=limit)
    return json_response(await read(rt, lambda con: linked_view(con, **args)))
