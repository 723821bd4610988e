"""Releases side by side: load phases, runtime init, operations, error rate and bytes, each
against the release seen before it, flagged at a regression factor (the seed's 1.5 x).

Read from raw items over the range (releases differ in few keys and the phases ``fetch_ms``,
``compile_ms``, ``instantiate_ms`` are not in the rollup). Releases come newest first by when
they were first seen in the range; each is compared with the one first seen before it.

A metric's ``ratio`` is its mean over the previous release's mean, ``p95_ratio`` the same of
the p95. It is ``regressed`` when ``ratio >= factor`` and both releases have at least
``min_samples`` values of it: the same comparison as the alert rule of kind ``regression``
(recent mean against baseline mean, per release and operation). The error rate is compared as
a rate (errors per operation), and going from no errors to at least ``min_samples`` is flagged
too; bytes are the mean transfer of network (uncached) loads. The app server's routes
(``server_request`` items, keyed ``METHOD route``) are compared the same way as operations and
flagged as ``route:METHOD route``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from wasmwatch.query.exceptions import QueryError
from wasmwatch.query.sources import Filters, raw_items

__all__ = ["MIN_SAMPLES", "PHASES", "releases"]

Json = dict[str, Any]
MIN_SAMPLES = 5
MAX_RELEASES = 50
# metric name -> (item type, column); the load phases of bundle_load, then runtime init
PHASES = {
    "download_ms": ("bundle_load", "fetch_ms"),
    "compile_ms": ("bundle_load", "compile_ms"),
    "instantiate_ms": ("bundle_load", "instantiate_ms"),
    "bundle_load_ms": ("bundle_load", "ms"),
    "runtime_init_ms": ("runtime_init", "ms"),
    "transfer_bytes": ("bundle_load", "CASE WHEN coalesce(cached, false) THEN NULL "
                                      "ELSE transfer_bytes END"),
}

_STAT = "count({c}), avg({c}), quantile_cont({c}, 0.95)"


def _ops_sql(items: str, where: str) -> str:
    return f"""
SELECT release, name, {_STAT.format(c='ms')}
FROM {items} WHERE {where} AND release IS NOT NULL AND type = 'operation' GROUP BY ALL"""


def _routes_sql(items: str, where: str) -> str:
    return f"""
SELECT release, method || ' ' || name, {_STAT.format(c='ms')}
FROM {items} WHERE {where} AND release IS NOT NULL AND type = 'server_request' GROUP BY ALL"""


def _stat(count: int | None, mean: float | None, p95: float | None) -> Json:
    return {"count": int(count or 0), "mean": mean, "p95": p95}


def _compare(now: Json, before: Json | None, factor: float, min_samples: int) -> Json:
    def ratio(field: str) -> float | None:
        if before is None or not now[field] or not before[field]:
            return None
        return float(now[field] / before[field])

    r = ratio("mean")
    enough = before is not None and min(now["count"], before["count"]) >= min_samples
    return {**now, "ratio": r, "p95_ratio": ratio("p95"),
            "regressed": bool(enough and r is not None and r >= factor)}


def _error_rate(now: Json, before: Json | None, factor: float, min_samples: int) -> Json:
    ops, errors = now["operations"], now["errors"]
    rate = errors / ops if ops else None
    out: Json = {"errors": errors, "operations": ops, "rate": rate, "ratio": None,
                 "regressed": False}
    if before is not None and rate is not None and before["operations"]:
        was = before["errors"] / before["operations"]
        out["ratio"] = rate / was if was else None
        out["regressed"] = bool(min(ops, before["operations"]) >= min_samples and (
            (was > 0 and rate / was >= factor) or (was == 0 and errors >= min_samples)))
    return out


def releases(
    con: Any,
    *,
    project: str,
    window_s: int,
    now_ms: int,
    browser: str | None = None,
    operation: str | None = None,
    factor: float = 1.5,
    min_samples: int = MIN_SAMPLES,
) -> Json:
    """Every release seen over the last ``window_s`` before ``now_ms``, newest first."""
    if window_s <= 0:
        raise QueryError(f"window must be greater than zero, got {window_s}s")
    if factor <= 1.0:
        raise QueryError(f"factor must be greater than 1, got {factor}")
    from_ms = now_ms - window_s * 1000
    items, where = raw_items(from_ms, now_ms, con), Filters(project, None, browser, operation).where()
    params = [*items.params, *where.params]
    base = con.execute(_sql_base(items.text, where.text), params).fetchall()
    ops: dict[str, dict[str, Json]] = defaultdict(dict)
    for release, name, n, mean, p95 in con.execute(_ops_sql(items.text, where.text), params).fetchall():
        ops[release][name or "unknown"] = _stat(n, mean, p95)
    routes: dict[str, dict[str, Json]] = defaultdict(dict)
    for release, name, n, mean, p95 in con.execute(_routes_sql(items.text, where.text),
                                                   params).fetchall():
        routes[release][name or "unknown"] = _stat(n, mean, p95)
    rows = sorted(base, key=lambda r: (r[1], r[0]))[-MAX_RELEASES:]
    out: list[Json] = []
    previous: Json | None = None
    for row in rows:
        raw = {**_raw(row, ops.get(row[0], {})), "routes": routes.get(row[0], {})}
        out.append(_entry(raw, previous, factor, min_samples))
        previous = raw
    out.reverse()
    return {"window_s": window_s, "from_ms": from_ms, "to_ms": now_ms, "factor": factor,
            "min_samples": min_samples, "releases": out}


def _sql_base(items: str, where: str) -> str:
    phases = ", ".join(
        _STAT.format(c=f"CASE WHEN type = {t!r} THEN {col} END") for t, col in PHASES.values())
    return f"""
SELECT release, min(ts), max(ts), count(DISTINCT session),
  count(*) FILTER (WHERE type = 'operation'), count(*) FILTER (WHERE type = 'error'), {phases}
FROM {items} WHERE {where} AND release IS NOT NULL GROUP BY release"""


def _raw(row: tuple[Any, ...], ops: dict[str, Json]) -> Json:
    metrics = {name: _stat(*row[6 + 3 * i: 9 + 3 * i]) for i, name in enumerate(PHASES)}
    return {"release": row[0], "first_seen": row[1], "last_seen": row[2], "sessions": row[3],
            "operations_total": row[4], "errors_total": row[5], "metrics": metrics,
            "operations": ops}


def _entry(now: Json, before: Json | None, factor: float, min_samples: int) -> Json:
    def was(name: str) -> Json | None:
        return None if before is None else before["metrics"][name]

    def was_op(name: str) -> Json | None:
        return None if before is None else before["operations"].get(name)

    metrics = {name: _compare(stat, was(name), factor, min_samples)
               for name, stat in now["metrics"].items()}
    ops = {name: _compare(stat, was_op(name), factor, min_samples)
           for name, stat in sorted(now["operations"].items())}
    routes = {name: _compare(stat, None if before is None else before["routes"].get(name),
                             factor, min_samples)
              for name, stat in sorted(now["routes"].items())}
    errors = _error_rate(
        {"errors": now["errors_total"], "operations": now["operations_total"]},
        None if before is None else {"errors": before["errors_total"],
                                     "operations": before["operations_total"]},
        factor, min_samples)
    flagged = [name for name, m in metrics.items() if m["regressed"]]
    flagged += [f"operation:{name}" for name, m in ops.items() if m["regressed"]]
    flagged += [f"route:{name}" for name, m in routes.items() if m["regressed"]]
    if errors["regressed"]:
        flagged.append("error_rate")
    return {"release": now["release"], "previous": None if before is None else before["release"],
            "first_seen": now["first_seen"], "last_seen": now["last_seen"],
            "sessions": now["sessions"], "metrics": metrics, "operations": ops, "routes": routes,
            "error_rate": errors, "regressions": flagged}
