"""The app's own server beside its client: route latency, and operations split by trace.

:func:`routes` gives each server route (service, method, route template) its request count,
failure rate (status >= 500 or not ok), p50/p95/p99 and mean ms, and the queries it ran per
request (queries directly under the request span). :func:`linked` joins client operations to
the server requests that share their W3C trace id (the SDK sends ``traceparent`` on
same-origin fetches inside ``track()``):

- *client time* is the operation's own duration, as the browser measured it;
- *server time* is the sum of the durations of the trace's top-level requests (those whose
  parent is not another server span of the same trace: the ones the browser made). Requests
  made in parallel are summed, so for them server time can exceed wall time;
- *network time* is client time minus server time, floored at 0: the wire, queueing, and what
  the browser did between the requests.

:func:`processes` gives each service's newest process sample (the client's poller, or OTLP
process metrics): resident memory, threads, CPU seconds and GC collections and ms since the
process started, with the window's peak memory. (Samples carry no process id: with several
processes per service, the newest sample is one of them.)

Server requests are looked for from a minute before the range to a minute after it, so an
operation near an edge keeps its requests.
"""

from __future__ import annotations

from typing import Any

from wasmwatch.query.exceptions import QueryError

__all__ = ["linked", "processes", "routes"]

Json = dict[str, Any]
MARGIN_MS = 60_000
MAX_TRACES = 200


def _check(from_ms: int, to_ms: int) -> None:
    if to_ms <= from_ms:
        raise QueryError(f"the range must end after it starts ({from_ms}..{to_ms})")


_ROUTES = """
WITH req AS (
  SELECT service, method, name AS route, span_id, trace_id, ms, status, ok FROM items
  WHERE project = ? AND type = 'server_request' AND ts >= ? AND ts <= ? {cond}),
q AS (
  SELECT trace_id, parent_span_id, count(*) AS n, sum(ms) AS ms FROM items
  WHERE project = ? AND type = 'server_span' AND kind = 'query' AND ts >= ? AND ts <= ?
  GROUP BY ALL)
SELECT r.service, r.method, r.route, count(*), count(*) FILTER (WHERE NOT r.ok),
  quantile_cont(r.ms, 0.5), quantile_cont(r.ms, 0.95), quantile_cont(r.ms, 0.99), avg(r.ms),
  coalesce(sum(q.n), 0), sum(q.ms)
FROM req r LEFT JOIN q ON q.trace_id = r.trace_id AND q.parent_span_id = r.span_id
GROUP BY ALL ORDER BY count(*) DESC, r.route LIMIT 500"""


def routes(con: Any, *, project: str, from_ms: int, to_ms: int,
           service: str | None = None) -> Json:
    """Per server route: requests, failures, p50/p95/p99 and mean ms, queries per request."""
    _check(from_ms, to_ms)
    cond, params = ("AND service = ?", [service]) if service else ("", [])
    sql = _ROUTES.format(cond=cond)
    rows = con.execute(sql, [project, from_ms, to_ms, *params,
                             project, from_ms, to_ms + MARGIN_MS]).fetchall()
    out = []
    for service_, method, route, n, failed, p50, p95, p99, mean, queries, query_ms in rows:
        out.append({"service": service_, "method": method, "route": route, "count": n,
                    "failures": failed, "failure_rate": failed / n if n else None,
                    "p50": p50, "p95": p95, "p99": p99, "mean": mean,
                    "queries_per_request": queries / n if n else None,
                    "query_ms_per_request": (query_ms or 0.0) / n if n else None})
    return {"from_ms": from_ms, "to_ms": to_ms, "routes": out}


_PROCESSES = """
SELECT service, count(*), max(ts), arg_max(rss_bytes, ts), max(rss_bytes), arg_max(threads, ts),
  arg_max(cpu_s, ts), arg_max(gc_count, ts), arg_max(gc_ms, ts) FROM items
WHERE project = ? AND type = 'server_process' AND ts >= ? AND ts <= ? {cond}
GROUP BY ALL ORDER BY service NULLS LAST LIMIT 100"""
_PROCESS_FIELDS = ("samples", "ts", "rss_bytes", "peak_rss_bytes", "threads", "cpu_s",
                   "gc_count", "gc_ms")


def processes(con: Any, *, project: str, from_ms: int, to_ms: int,
              service: str | None = None) -> list[Json]:
    """Per service: its newest process sample in the range, and the range's peak memory."""
    _check(from_ms, to_ms)
    cond, params = ("AND service = ?", [service]) if service else ("", [])
    rows = con.execute(_PROCESSES.format(cond=cond), [project, from_ms, to_ms, *params]).fetchall()
    return [{"service": r[0], **dict(zip(_PROCESS_FIELDS, r[1:], strict=True))} for r in rows]


_TRACES = """
WITH ops AS (
  SELECT trace_id, arg_min(name, ts) AS operation, arg_min(ms, ts) AS client_ms, min(ts) AS ts,
    arg_min(session, ts) AS session, arg_min(release, ts) AS release FROM items
  WHERE project = ? AND type = 'operation' AND trace_id IS NOT NULL AND ts >= ? AND ts <= ? {cond}
  GROUP BY trace_id),
srv AS (
  SELECT type, trace_id, span_id, parent_span_id, name, method, status, ms, service, ts FROM items
  WHERE project = ? AND type IN ('server_request', 'server_span') AND ts >= ? AND ts <= ?
    AND trace_id IN (SELECT trace_id FROM ops)),
top AS (
  SELECT r.* FROM srv r WHERE r.type = 'server_request' AND NOT EXISTS (
    SELECT 1 FROM srv p WHERE p.trace_id = r.trace_id AND p.span_id = r.parent_span_id)),
per AS (
  SELECT trace_id, sum(ms) AS server_ms, count(*) AS requests,
    list({{'route': name, 'method': method, 'status': status, 'ms': ms, 'service': service}}
         ORDER BY ts) AS calls
  FROM top GROUP BY trace_id)
SELECT o.trace_id, o.operation, o.ts, o.client_ms, p.server_ms,
  greatest(o.client_ms - p.server_ms, 0) AS network_ms, p.requests, p.calls, o.session, o.release
FROM ops o JOIN per p USING (trace_id)"""


_PER_OP = """
SELECT operation, count(*), {stats}, avg(requests) FROM ({traces}) GROUP BY operation
ORDER BY count(*) DESC, operation"""
_NEWEST = "SELECT * FROM ({traces}) ORDER BY ts DESC, trace_id LIMIT ?"
_PARTS = ("client_ms", "server_ms", "network_ms")


def _stats() -> str:
    return ", ".join(f"quantile_cont({c}, 0.5), quantile_cont({c}, 0.95), avg({c})"
                     for c in _PARTS)


def linked(con: Any, *, project: str, from_ms: int, to_ms: int,
           operation: str | None = None, limit: int = 50) -> Json:
    """Per operation name, client vs server vs network ms over the operations whose trace has
    server requests; and the newest ``limit`` such traces with their requests."""
    _check(from_ms, to_ms)
    cond, extra = ("AND name = ?", [operation]) if operation else ("", [])
    traces_sql = _TRACES.format(cond=cond)
    params = [project, from_ms, to_ms, *extra, project, from_ms - MARGIN_MS, to_ms + MARGIN_MS]
    ops = []
    for r in con.execute(_PER_OP.format(stats=_stats(), traces=traces_sql), params).fetchall():
        entry: Json = {"operation": r[0] or "unknown", "count": r[1]}
        for i, part in enumerate(_PARTS):
            entry[part] = {"p50": r[2 + 3 * i], "p95": r[3 + 3 * i], "mean": r[4 + 3 * i]}
        entry["requests_per_operation"] = r[11]
        ops.append(entry)
    rows = con.execute(_NEWEST.format(traces=traces_sql),
                       [*params, max(0, min(limit, MAX_TRACES))]).fetchall()
    traces = [{"trace_id": r[0], "operation": r[1], "ts": r[2], "client_ms": r[3],
               "server_ms": r[4], "network_ms": r[5], "requests": r[6], "calls": r[7],
               "session": r[8], "release": r[9]} for r in rows]
    return {"from_ms": from_ms, "to_ms": to_ms, "operations": ops, "traces": traces}
