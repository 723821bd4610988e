"""Alerting API handlers (admin token): alerts, rules, silences, and a test send."""

from __future__ import annotations

import msgspec

from wasmwatch.alerts.silences import SilenceError, parse_silence
from wasmwatch.errors import BadRequest, NotFound
from wasmwatch.query import QueryError, parse_window
from wasmwatch.runtime import Runtime
from wasmwatch.web.http import Request, Response, json_response

_STATES = ("pending", "firing", "resolved")


async def _json_body(request: Request) -> object:
    body = await request.body(64 * 1024)
    try:
        return msgspec.json.decode(body) if body else {}
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body: not valid JSON: {exc}") from exc


async def alerts(rt: Runtime, request: Request) -> Response:
    """Alerts newest first, filtered by ``state``, ``rule`` and ``window``."""
    rt.authorize_admin(request)
    q = request.query
    state = q.get("state")
    if state is not None and state not in _STATES:
        raise BadRequest(f"state: expected one of {', '.join(_STATES)}, got {state!r}")
    rule = q.get("rule")
    if rule is not None and rule not in {r.name for r in rt.alerts.rules}:
        raise BadRequest(f"rule: no rule named {rule!r}")
    try:
        window_s = parse_window(q.get("window", "24h"))
        limit = int(q.get("limit", "100"))
    except QueryError as exc:
        raise BadRequest(str(exc)) from exc
    except ValueError as exc:
        raise BadRequest("limit: expected an integer") from exc
    if not 1 <= limit <= 1000:
        raise BadRequest(f"limit: expected 1 to 1000, got {limit}")
    since = rt.clock.now_ms() - window_s * 1000
    found = await rt.alerts.alerts(since_ms=since, state=state, rule=rule, limit=limit)
    return json_response({"count": len(found), "alerts": found})


async def rules(rt: Runtime, request: Request) -> Response:
    rt.authorize_admin(request)
    return json_response({"rules": rt.alerts.rules_state()})


async def silences(rt: Runtime, request: Request) -> Response:
    """GET the silences (active and recently ended); POST one."""
    rt.authorize_admin(request)
    now = rt.clock.now_ms()
    if request.method == "GET":
        return json_response({"silences": rt.alerts.silence_list(now)})
    try:
        silence = parse_silence(await _json_body(request), now, rt.alerts.project)
    except SilenceError as exc:
        raise BadRequest(str(exc)) from exc
    await rt.alerts.add_silence(silence)
    return json_response(silence.as_dict(now), 201)


async def silence(rt: Runtime, request: Request) -> Response:
    """DELETE /api/v1/silences/{id}: end it now."""
    rt.authorize_admin(request)
    silence_id = request.path.rsplit("/", 1)[-1]
    if not silence_id or silence_id == "silences":
        raise BadRequest("give the silence's id: /api/v1/silences/{id}")
    now = rt.clock.now_ms()
    ended = await rt.alerts.expire_silence(silence_id, now)
    if ended is None:
        raise NotFound(f"no silence with id {silence_id!r}")
    return json_response(ended.as_dict(now))


async def test(rt: Runtime, request: Request) -> Response:
    """Send a test alert to one channel: body ``{"channel": "webhook"}``."""
    rt.authorize_admin(request)
    body = await _json_body(request)
    names = rt.alerts.channel_names()
    channel = body.get("channel") if isinstance(body, dict) else None
    if channel not in names:
        raise BadRequest(f"channel: expected one of the configured channels {', '.join(names)}, "
                         f"got {channel!r}")
    attempt = await rt.alerts.test(str(channel), rt.clock.now_ms())
    return json_response(attempt.as_dict(), 200 if attempt.outcome == "ok" else 502)
