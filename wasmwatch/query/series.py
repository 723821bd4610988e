"""Time-bucketed stats for charts: one point per step over a window.

Buckets are aligned to multiples of the step since the epoch (UTC): point ``t`` covers
``[t, t + step)``. Points run from the bucket holding ``now - window`` to the bucket holding
``now``, every bucket present (empty ones have count 0 and ``None`` stats). Metrics and the
fields of their points (besides ``t``, the bucket start in epoch ms):

=================  ==========================================================================
``bundle_load``    ``count``, ``p50``, ``p95``, ``p99``, ``avg`` of bundle total ms
``runtime_init``   the same, of runtime init ms
``operation``      the same, of operation ms (one operation when ``operation`` is given)
``errors``         ``count`` of error items, ``operations``, ``rate`` (errors / operations, 0
                   when none)
``memory``         ``count`` of memory samples, ``max`` and ``last`` WASM memory bytes
``events``         ``count`` of all items, ``by_type`` {type: count}
=================  ==========================================================================

Windows up to 1 h, ``exact=True``, and steps that are not whole minutes read raw items; other
steps read the rollup (each bucket from the coarsest tier whose width divides the step),
completed from raw rows where a bucket is cut by ``now`` or not yet aggregated (see
:func:`~wasmwatch.query.sources.rollup_window`): counts stay exact, latency percentiles are
then within 1 % (``"approximate": true``). Items dated after ``now`` are in no point.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from wasmwatch.query import sketch
from wasmwatch.query.cache import SpanCache, merge_spans, read_spans
from wasmwatch.query.exceptions import UnknownMetric
from wasmwatch.query.rollup import floor_to
from wasmwatch.query.sources import (
    EXACT_MAX_S,
    Filters,
    Sql,
    Window,
    raw_counters,
    raw_items,
    rollup_window,
    snapshot,
)
from wasmwatch.query.windows import check_series

__all__ = ["METRICS", "series"]

Json = dict[str, Any]
LATENCY_METRICS = ("bundle_load", "runtime_init", "operation")
METRICS = (*LATENCY_METRICS, "errors", "memory", "events")
QUANTILES = (0.5, 0.95, 0.99)
_QS = "[0.5, 0.95, 0.99]"

# Per-bucket aggregates of counter rows, per non-latency metric.
_SELECTS = {
    "errors": "CAST(sum(n) FILTER (WHERE type = 'error') AS BIGINT), "
    "CAST(sum(n) FILTER (WHERE type = 'operation') AS BIGINT)",
    "memory": "CAST(sum(n) FILTER (WHERE type = 'memory') AS BIGINT), "
    "max(value_max) FILTER (WHERE type = 'memory'), "
    "arg_max(value_last, last_ts) FILTER (WHERE type = 'memory')",
}


def _bucketed(con: Any, source: Sql, filters: Filters, step_ms: int, select: str,
              extra: str = "") -> list[tuple[Any, ...]]:
    where = filters.where()
    sql = (
        f"SELECT (t // {step_ms}) * {step_ms} AS b, {select} FROM ({source.text}) "
        f"WHERE {where.text}{extra} GROUP BY ALL"
    )
    return list(con.execute(sql, [*source.params, *where.params]).fetchall())


def _latency_raw(con: Any, metric: str, filters: Filters, start: int, now: int,
                 step_ms: int) -> dict[int, list[float | None]]:
    items = raw_items(start, now, con, ("ts", "ms"), (metric,))
    source = Sql(f"(SELECT ts AS t, * FROM {items.text})", items.params)
    rows = _bucketed(con, source, filters, step_ms, f"quantile_cont(ms, {_QS})",
                     f" AND type = '{metric}' AND ms IS NOT NULL")
    return {b: list(q) for b, q in rows}


def _latency_rollup(con: Any, metric: str, filters: Filters, window: Window,
                    step_ms: int) -> dict[int, list[float | None]]:
    hist, where = window.hist, filters.where()
    sql = f"""
SELECT b, list(bin ORDER BY bin), list(n ORDER BY bin) FROM (
  SELECT (t // {step_ms}) * {step_ms} AS b, bin, CAST(sum(n) AS BIGINT) AS n
  FROM ({hist.text}) WHERE {where.text} AND type = ? GROUP BY ALL)
GROUP BY b"""
    rows = con.execute(sql, [*hist.params, *where.params, metric]).fetchall()
    return {
        b: sketch.quantiles(bins, counts, QUANTILES)
        for b, bins, counts in rows
    }


def _cached_latency(con: Any, metric: str, filters: Filters, window: Window, step_ms: int,
                    cache: SpanCache) -> dict[int, Json]:
    """:func:`_latency_points` of a rollup window, the spans' rows from the cache (see
    :mod:`.cache`): per bucket the count, ms sum and ms count (the average from them) and the
    histogram, merged in Python."""
    bucket = f"(t // {step_ms}) * {step_ms}"
    what = ("series", metric, step_ms, filters, window.any_browser)
    rest, spans = read_spans(con, window, filters, cache, (*what, "counts"), (
        f"SELECT span, {bucket} AS b, CAST(sum(n) AS BIGINT), sum(ms_sum), "
        f"CAST(sum(ms_n) AS BIGINT) FROM ({{source}}) WHERE {{where}} AND type = '{metric}' "
        "GROUP BY ALL"))
    counts = merge_spans(window, cache, (*what, "counts"), spans, _add_counts, len)
    counts = {b: list(v) for b, v in counts.items()}  # the cached one is shared
    _add_counts(counts, rest)
    rest, spans = read_spans(con, window, filters, cache, (*what, "hist"), (
        f"SELECT span, {bucket} AS b, bin, CAST(sum(n) AS BIGINT) FROM ({{source}}) "
        f"WHERE {{where}} AND type = '{metric}' GROUP BY ALL"), hist=True)
    hist = merge_spans(window, cache, (*what, "hist"), spans, _add_bins, _bins_held)
    hist = {b: dict(bins) for b, bins in hist.items()}
    _add_bins(hist, rest)
    out = {}
    for b, (n, ms_sum, ms_n) in counts.items():
        bins = sorted(hist.get(b, {}))
        qs = (sketch.quantiles(bins, [hist[b][x] for x in bins], QUANTILES) if bins
              else [None, None, None])
        avg = ms_sum / ms_n if ms_sum is not None and ms_n else None
        out[b] = dict(zip(("count", "p50", "p95", "p99", "avg"), (n, *qs, avg), strict=True))
    return out


def _bins_held(hist: dict[int, Any]) -> int:
    return sum(map(len, hist.values()))


def _add_counts(into: dict[int, Any], rows: Iterable[tuple[Any, ...]]) -> None:
    for b, n, ms_sum, ms_n in rows:
        was = into.get(b)
        if was is None:
            into[b] = [n, ms_sum, ms_n]
        else:
            was[0] += n
            was[1] = ms_sum if was[1] is None else was[1] if ms_sum is None else was[1] + ms_sum
            was[2] += ms_n


def _add_bins(into: dict[int, Any], rows: Iterable[tuple[Any, ...]]) -> None:
    for b, bin_, n in rows:
        bins = into.setdefault(b, {})
        bins[bin_] = bins.get(bin_, 0) + n


def _latency_points(con: Any, metric: str, filters: Filters, plan: _Plan,
                    cache: SpanCache | None = None) -> dict[int, Json]:
    if plan.window is not None and plan.window.mark is not None and cache is not None:
        return _cached_latency(con, metric, filters, plan.window, plan.step_ms, cache)
    counts = _bucketed(con, plan.counters, filters, plan.step_ms,
                       "CAST(sum(n) AS BIGINT), sum(ms_sum) / nullif(sum(ms_n), 0)",
                       f" AND type = '{metric}'")
    if plan.window is None:
        qs = _latency_raw(con, metric, filters, plan.start_ms, plan.now_ms, plan.step_ms)
    else:
        qs = _latency_rollup(con, metric, filters, plan.window, plan.step_ms)
    return {
        b: dict(zip(("count", "p50", "p95", "p99", "avg"),
                    (n, *qs.get(b, (None, None, None)), avg), strict=True))
        for b, n, avg in counts
    }


def _error_points(rows: list[tuple[Any, ...]]) -> dict[int, Json]:
    return {
        b: {"count": errors or 0, "operations": ops or 0,
            "rate": (errors or 0) / ops if ops else 0.0}
        for b, errors, ops in rows
    }


def _memory_points(rows: list[tuple[Any, ...]]) -> dict[int, Json]:
    return {
        b: {"count": n or 0, "max": None if peak is None else int(peak),
            "last": None if last is None else int(last)}
        for b, n, peak, last in rows if n
    }


def _event_points(rows: list[tuple[Any, ...]]) -> dict[int, Json]:
    points: dict[int, Json] = {}
    for b, type_, n in sorted(rows, key=lambda r: (r[0], -r[2], r[1])):
        point = points.setdefault(b, {"count": 0, "by_type": {}})
        point["count"] += n
        point["by_type"][type_] = n
    return points


def _empty(metric: str) -> Json:
    """The point of a bucket without data."""
    if metric in LATENCY_METRICS:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "avg": None}
    if metric == "errors":
        return {"count": 0, "operations": 0, "rate": 0.0}
    if metric == "memory":
        return {"count": 0, "max": None, "last": None}
    return {"count": 0, "by_type": {}}


@dataclass(frozen=True)
class _Plan:
    """Where and how a series reads: bucket range, step, and rollup window (None: raw items)."""

    step_ms: int
    now_ms: int
    start_ms: int
    window: Window | None
    counters: Sql


def _plan(con: Any, window_s: int, step_s: int, now_ms: int, raw: bool,
          filters: Filters) -> _Plan:
    step_ms = step_s * 1000
    start_ms = floor_to(now_ms - window_s * 1000, step_ms)
    if raw:
        return _Plan(step_ms, now_ms, start_ms, None, raw_counters(start_ms, now_ms, con))
    window = rollup_window(con, start_ms, now_ms, step_ms, filters)
    return _Plan(step_ms, now_ms, start_ms, window, window.counters)


def _points(con: Any, metric: str, filters: Filters, plan: _Plan,
            cache: SpanCache | None = None) -> dict[int, Json]:
    if metric in LATENCY_METRICS:
        return _latency_points(con, metric, filters, plan, cache)
    if metric == "events":
        return _event_points(_bucketed(con, plan.counters, filters, plan.step_ms,
                                       "type, CAST(sum(n) AS BIGINT)"))
    rows = _bucketed(con, plan.counters, filters, plan.step_ms, _SELECTS[metric])
    return _error_points(rows) if metric == "errors" else _memory_points(rows)


def series(
    con: Any,
    *,
    project: str,
    metric: str,
    window_s: int,
    step_s: int,
    now_ms: int,
    release: str | None = None,
    browser: str | None = None,
    operation: str | None = None,
    exact: bool = False,
    exact_max_s: int = EXACT_MAX_S,
    cache: SpanCache | None = None,
) -> Json:
    """Points of ``metric`` every ``step_s`` over the last ``window_s`` before ``now_ms``;
    with ``cache`` a latency metric's rollup spans come from it where it holds them (see
    :mod:`.cache`; the same points, sums up to the order they are added in)."""
    if metric not in METRICS:
        raise UnknownMetric(f"unknown metric {metric!r}: expected one of {', '.join(METRICS)}")
    check_series(window_s, step_s)
    raw = exact or window_s <= exact_max_s or step_s % 60 != 0
    filters = Filters(project, release, browser, operation)
    with snapshot(con):
        plan = _plan(con, window_s, step_s, now_ms, raw, filters)
        found = _points(con, metric, filters, plan, cache)
    buckets = range(plan.start_ms, floor_to(now_ms, plan.step_ms) + 1, plan.step_ms)
    approximate = not raw and metric in LATENCY_METRICS
    return {
        "metric": metric,
        "window_s": window_s,
        "step_s": step_s,
        "from_ms": plan.start_ms,
        "to_ms": now_ms,
        "approximate": approximate,
        "relative_error": sketch.ALPHA if approximate else 0.0,
        "source": "raw" if raw else "rollup",
        "points": [{"t": t, **(found.get(t) or _empty(metric))} for t in buckets],
    }

