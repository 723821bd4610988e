"""Insight handlers (admin token): releases side by side, and (see below) error states and
one session's timeline. Each reads through :func:`wasmwatch.web.query.read`."""

from __future__ import annotations

from typing import Any

from wasmwatch.query.releases import releases as release_view
from wasmwatch.runtime import Runtime
from wasmwatch.web.http import Request, Response, json_response
from wasmwatch.web.query import filters, project_of, read, span


async def releases(rt: Runtime, request: Request) -> Response:
    """Releases newest first, each against the one before, flagged at the regression factor."""
    rt.authorize_admin(request)
    window_s, now = span(rt, request, "7d")
    f = filters(request)
    args: dict[str, Any] = dict(project=project_of(rt, request), window_s=window_s, now_ms=now,
                                browser=f["browser"], operation=f["operation"],
                                factor=rt.settings.release_regression_factor)
    return json_response(await read(rt, lambda con: release_view(con, **args)))
