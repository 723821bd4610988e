"""Query, stream and operations handlers (admin token), plus /metrics, /healthz and /readyz."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import duckdb
import msgspec

from wasmwatch.errors import BadRequest, StoreError
from wasmwatch.query import (
    QueryError,
    default_step,
    error_groups,
    parse_step,
    parse_window,
)
from wasmwatch.query import series as chart_series
from wasmwatch.query.error_breakdown import breakdown
from wasmwatch.query.error_states import attach as attach_states
from wasmwatch.query.overview import overview
from wasmwatch.query.ranges import parse_range
from wasmwatch.query.sources import Filters
from wasmwatch.runtime import Runtime
from wasmwatch.telemetry import get_levels, render, set_levels
from wasmwatch.web.http import Request, Response, StreamResponse, json_response
from wasmwatch.web.symbols import symbolicate

T = TypeVar("T")
_FILTERS = ("release", "browser", "operation")
_json = msgspec.json.Encoder()


async def _read(rt: Runtime, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run a read on a worker thread with that thread's own cursor."""
    store = rt.store
    if store is None:
        raise StoreError("the store is not open")

    def run() -> T:
        try:
            cursor: Any = store.reader()  # DuckDB's cursor, or the ClickHouse store's Reader
            return fn(cursor)
        except QueryError as exc:
            raise BadRequest(str(exc)) from exc
        except duckdb.Error as exc:
            raise StoreError(f"query failed: {exc}") from exc

    return await asyncio.to_thread(run)


def _window(request: Request, default: str) -> int:
    try:
        return parse_window(request.query.get("window", default))
    except QueryError as exc:
        raise BadRequest(str(exc)) from exc


def span(rt: Runtime, request: Request, default: str) -> tuple[int, int]:
    """``(window_s, to_ms)``: a custom ``from``/``to`` range when given, else ``window``."""
    now = rt.clock.now_ms()
    if "from" not in request.query and "to" not in request.query:
        return _window(request, default), now
    try:
        chosen = parse_range(request.query.get("from"), request.query.get("to"), now)
    except QueryError as exc:
        raise BadRequest(str(exc)) from exc
    return chosen.window_s, chosen.to_ms


def budgets(rt: Runtime) -> dict[str, float]:
    """The dashboard's budgets, from settings (the seed's defaults)."""
    s = rt.settings
    return {"first_load_ms": s.budget_first_load_ms, "cached_load_ms": s.budget_cached_load_ms,
            "compile_instantiate_ms": s.budget_compile_instantiate_ms,
            "runtime_init_ms": s.budget_runtime_init_ms, "operation_ms": s.budget_operation_ms,
            "memory_bytes": s.budget_memory_bytes, "error_rate": s.budget_error_rate,
            "pending_offline": s.budget_pending_offline}


def _filters(request: Request) -> dict[str, str | None]:
    return {name: request.query.get(name) or None for name in _FILTERS}


def filters(request: Request) -> dict[str, str | None]:
    """The ``release``, ``browser`` and ``operation`` query parameters (None when absent)."""
    return _filters(request)


def project_of(rt: Runtime, request: Request) -> str:
    return _project(rt, request)


async def read(rt: Runtime, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run a read on a worker thread with its own cursor; bad arguments become a 400."""
    return await _read(rt, fn)


_TRUE = ("true", "1", "yes")
FLAG_VALUES = (*_TRUE, "false", "0", "no")


def _flag(request: Request, name: str) -> bool:
    """A boolean query parameter, false when absent; a value outside FLAG_VALUES is a 400."""
    value = request.query.get(name)
    if value is None:
        return False
    if value not in FLAG_VALUES:
        raise BadRequest(f"{name}: expected true or false, got {value[:40]!r}")
    return value in _TRUE


def _project(rt: Runtime, request: Request) -> str:
    """The ``project`` parameter (default: the default project); 404 if there is none such."""
    return rt.keyring.project(request.query.get("project") or "default").id


async def summary(rt: Runtime, request: Request) -> Response:
    rt.authorize_admin(request)
    window_s, now = span(rt, request, "1h")
    args: dict[str, Any] = dict(project=_project(rt, request), window_s=window_s, now_ms=now,
                                exact=_flag(request, "exact"), compare=_flag(request, "compare"),
                                cache=rt.span_cache, **_filters(request))
    answer = await _read(rt, lambda con: overview(con, **args))
    return json_response({**answer, "budgets": budgets(rt)})


async def series(rt: Runtime, request: Request) -> Response:
    rt.authorize_admin(request)
    window_s, now = span(rt, request, "1h")
    metric = request.query.get("metric", "operation")
    try:
        step_s = parse_step(request.query["step"]) if "step" in request.query else default_step(window_s)
    except QueryError as exc:
        raise BadRequest(str(exc)) from exc
    args: dict[str, Any] = dict(project=_project(rt, request), metric=metric, window_s=window_s,
                                step_s=step_s, now_ms=now, cache=rt.span_cache,
                                **_filters(request))
    try:
        return json_response(await _read(rt, lambda con: chart_series(con, **args)))
    except QueryError as exc:
        raise BadRequest(str(exc)) from exc


async def errors(rt: Runtime, request: Request) -> Response:
    rt.authorize_admin(request)
    window_s, now = span(rt, request, "24h")
    try:
        limit = max(1, min(500, int(request.query.get("limit", "50"))))
    except ValueError as exc:
        raise BadRequest("limit: expected an integer") from exc
    args: dict[str, Any] = dict(project=_project(rt, request), window_s=window_s,
                                now_ms=now, limit=limit, **_filters(request))

    def run(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        answer = error_groups(con, **args)
        f = _filters(request)
        scope = Filters(args["project"], f["release"], f["browser"], f["operation"])
        breakdown(con, scope, answer["from_ms"], answer["to_ms"], answer["groups"],
                  every=answer["group_count"] == len(answer["groups"]))
        attach_states(con, args["project"], answer["groups"])
        return symbolicate(rt, args["project"], answer)

    return json_response(await _read(rt, run))


async def _events(rt: Runtime, project: str) -> AsyncIterator[bytes]:
    yield b"retry: 3000\n\n"
    async for update in rt.live.subscribe(project):
        if update is None:
            yield b": heartbeat\n\n"
        else:
            event, data = update
            yield b"event: " + event.encode() + b"\ndata: " + _json.encode(data) + b"\n\n"


async def stream(rt: Runtime, request: Request) -> Response:
    rt.authorize_admin(request)
    return StreamResponse(_events(rt, _project(rt, request)), "text/event-stream")


async def log_levels(rt: Runtime, request: Request) -> Response:
    """GET the per-module log levels; PUT ``{"module": "LEVEL"}`` to change them at run time."""
    rt.authorize_admin(request)
    if request.method == "PUT":
        body = await request.body(64 * 1024)
        try:
            levels = msgspec.json.decode(body, type=dict[str, str])
            set_levels(levels)
        except (msgspec.MsgspecError, ValueError) as exc:
            raise BadRequest(f"body: {exc}") from exc
    return json_response(get_levels())


async def metrics(rt: Runtime, request: Request) -> Response:
    rt.authorize_metrics(request)
    body, content_type = render(rt.registry, request.headers.get("accept"))
    return Response(body, 200, None, content_type)


async def healthz(rt: Runtime, request: Request) -> Response:
    """Alive: the process answers. Says nothing about writes (that is /readyz)."""
    return json_response({"status": "ok"})


async def readyz(rt: Runtime, request: Request) -> Response:
    """Ready to take writes: 200, else 503 naming each failing check."""
    failing = rt.readiness()
    depth = rt.writer.depth if rt.store is not None else 0
    if failing:
        return json_response({"status": "not ready", "failing": failing, "queue_depth": depth},
                             503, {"retry-after": "5"})
    return json_response({"status": "ready", "queue_depth": depth})


_ITEM_FILTERS = ("type", "session", "release", "name", "id", "trace_id")


def _recent_items(con: duckdb.DuckDBPyConnection, project: str, since_ms: int,
                  filters: dict[str, str], limit: int) -> dict[str, Any]:
    where = ["project = ?", "ts >= ?"] + [f"{name} = ?" for name in filters]
    cur = con.execute(
        f"SELECT * FROM items WHERE {' AND '.join(where)} ORDER BY ts DESC, id LIMIT ?",
        [project, since_ms, *filters.values(), limit],
    )
    names = [d[0] for d in cur.description or ()]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return {"count": len(rows), "items": rows}


async def items(rt: Runtime, request: Request) -> Response:
    """The newest raw items, filtered by type, session, release, name or id."""
    rt.authorize_admin(request)
    window_s = _window(request, "24h")
    try:
        limit = max(1, min(10_000, int(request.query.get("limit", "100"))))
    except ValueError as exc:
        raise BadRequest("limit: expected an integer") from exc
    filters = {n: request.query[n] for n in _ITEM_FILTERS if request.query.get(n)}
    since = rt.clock.now_ms() - window_s * 1000
    project = _project(rt, request)
    return json_response(await _read(rt, lambda con: _recent_items(con, project, since, filters, limit)))
