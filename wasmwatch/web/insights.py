"""Insight handlers (admin token): releases side by side, and (see below) error states and
one session's timeline. Each reads through :func:`wasmwatch.web.query.read`."""

from __future__ import annotations

from typing import Any

import msgspec

from wasmwatch.errors import BadRequest
from wasmwatch.query.error_states import set_state
from wasmwatch.query.insights import insights as impact
from wasmwatch.query.releases import releases as release_view
from wasmwatch.query.sessions import session_timeline
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


class StateChange(msgspec.Struct, forbid_unknown_fields=True):
    fingerprint: str
    state: str


async def error_state(rt: Runtime, request: Request) -> Response:
    """POST ``{"fingerprint", "state"}``: mark an error group resolved, ignored or open."""
    rt.authorize_admin(request)
    try:
        change = msgspec.json.decode(await request.body(16 * 1024), type=StateChange)
    except msgspec.MsgspecError as exc:
        raise BadRequest(f"body: {exc}") from exc
    args: dict[str, Any] = dict(project=project_of(rt, request), fingerprint=change.fingerprint,
                                state=change.state, now_ms=rt.clock.now_ms())
    return json_response(await read(rt, lambda con: set_state(con, **args)))


async def session(rt: Runtime, request: Request) -> Response:
    """GET ``?id=SESSION``: that session's items in time order, context and offline periods."""
    rt.authorize_admin(request)
    sid = request.query.get("id", "")
    project = project_of(rt, request)
    return json_response(await read(rt, lambda con: session_timeline(con, project=project,
                                                                       session=sid)))


async def insights(rt: Runtime, request: Request) -> Response:
    """Load time against bounce, bandwidth cost, engagement and adoption over a window."""
    rt.authorize_admin(request)
    window_s, now = span(rt, request, "24h")
    f, s = filters(request), rt.settings
    args: dict[str, Any] = dict(project=project_of(rt, request), window_s=window_s, now_ms=now,
                                release=f["release"], browser=f["browser"],
                                bounce_threshold_s=s.bounce_threshold_s,
                                cdn_price_per_gb=s.cdn_price_per_gb,
                                server_cost_per_million_ops=s.server_cost_per_million_ops)
    return json_response(await read(rt, lambda con: impact(con, **args)))
