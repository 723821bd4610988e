"""The dashboard summary of one project over one window, in two grouped queries.

Windows up to ``EXACT_MAX_S`` (1 h), and any window asked with ``exact=True``, are answered
from raw items, with percentiles from DuckDB's ``quantile_cont`` (numpy's ``linear``).
Longer windows are answered from the rollup (see :mod:`wasmwatch.query.rollup`), its whole
buckets completed from raw rows at the edges and for items not yet aggregated (see
:func:`~wasmwatch.query.sources.rollup_window`): counts, sums, averages, maxima and rates are
exact, percentiles come from 1 %-accurate histograms, and the answer says
``"approximate": true, "relative_error": 0.01, "source": "rollup"``. Either way the answer covers
exactly ``from_ms <= ts <= to_ms`` (``now - window`` to ``now``), which it states; items dated
after ``now`` are counted once their time has come.

Undefined numbers are ``None`` (a percentile of nothing, the success rate of no syncs), except
the error rate, which is 0 when there are no operations. Items without a release are listed
under ``"unknown"``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, NamedTuple

from wasmwatch.query import rollup, sketch
from wasmwatch.query.cache import SpanCache, merge_spans, read_spans
from wasmwatch.query.loads import bundle_split, rollup_split
from wasmwatch.query.rollup import HIST_TYPES
from wasmwatch.query.sources import (
    EXACT_MAX_S,
    Filters,
    Sql,
    Window,
    raw_counters,
    raw_items,
    rollup_window,
    snapshot,
    wide_store,
)
from wasmwatch.query.windows import WindowError

__all__ = ["QUANTILES", "UNKNOWN", "summary"]

Json = dict[str, Any]
QUANTILES = (0.5, 0.95, 0.99)
UNKNOWN = "unknown"
TOP_PAGES = 20


class Counter(NamedTuple):
    """One aggregated key of the window (see ``rollup.MERGE``)."""

    type: str
    release: str | None
    name: str | None
    ok: bool | None
    offline: bool | None
    cached: bool | None
    category: str | None
    n: int
    ms_n: int
    ms_sum: float | None
    ms_max: float | None
    bytes_sum: int | None
    value_max: float | None
    value_last: float | None
    last_ts: int | None
    synced_sum: int | None
    pending_last: int | None


class Latency(NamedTuple):
    """Percentiles of one group: ``(p50, p95, p99)``."""

    p50: float | None
    p95: float | None
    p99: float | None


# (type, "main" | "release", name or release) -> percentiles; "main" groups operations by
# name and other types as a whole (name None).
LatencyMap = dict[tuple[str, str, str | None], Latency]

_QS = "[" + ", ".join(str(q) for q in QUANTILES) + "]"


def _counters(con: Any, source: Sql, filters: Filters, merge: str = rollup.MERGE) -> list[Counter]:
    where = filters.where()
    sql = (
        f"SELECT {_KEYS}, {merge} FROM ({source.text}) WHERE {where.text} GROUP BY ALL"
    )
    return [Counter(*row) for row in con.execute(sql, [*source.params, *where.params]).fetchall()]


_KEYS = "type, release, name, ok, offline, cached, category"
# The "last" values (``arg_max``) are read apart, from the only types that have them: with them
# in the same aggregate DuckDB sizes a grouping of ~3.5 M raw rows beyond a 160 MB
# memory_limit and fails with "Out of Memory" (seen on a 24 h window of shuffled data).
_LAST = "arg_max(value_last, last_ts) AS value_last, arg_max(pending_last, last_ts) AS pending_last"
_LAST_TYPES = ("memory", "offline_sync")
_NO_LAST = rollup.MERGE.replace("arg_max(value_last, last_ts)", "NULL").replace(
    "arg_max(pending_last, last_ts)", "NULL")


# the last values are looked for in the window's last 5 minutes, then its last hour, then all
_RECENT_MS = (300_000, 3_600_000)


def _last_rows(con: Any, from_ms: int, to_ms: int,
               filters: Filters) -> dict[tuple[Any, ...], tuple[Any, Any]]:
    source, where = raw_counters(from_ms, to_ms, con), filters.where()
    sql = (f"SELECT {_KEYS}, {_LAST} FROM ({source.text}) WHERE {where.text} "
           f"AND type IN {_LAST_TYPES!r} GROUP BY ALL")
    return {tuple(row[:7]): (row[7], row[8]) for row in
            con.execute(sql, [*source.params, *where.params]).fetchall()}


def _last_values(con: Any, from_ms: int, to_ms: int, filters: Filters,
                 keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], tuple[Any, Any]]:
    """Per key of ``keys`` (memory and sync keys), its newest non-NULL value and backlog.

    Read from the window's last minutes first (a key with a value there has its newest one
    there), then from a longer tail, and from the whole window only when some key still has
    none: the tail holds few rows, so it costs far less than the whole window."""
    needed = {"memory": 0, "offline_sync": 1}
    for width_ms in (*_RECENT_MS, None):
        start = from_ms if width_ms is None else max(from_ms, to_ms - width_ms)
        found = _last_rows(con, start, to_ms, filters)
        if start == from_ms or all(found.get(k, (None, None))[needed[k[0]]] is not None
                                   for k in keys):
            return found
    return found


def _raw_counters(con: Any, from_ms: int, to_ms: int, filters: Filters,
                  split: bool = True) -> list[Counter]:
    """Counter rows of the raw items of ``[from_ms, to_ms]``: with ``split`` the sums, counts
    and maxima in one aggregate, the last values (:func:`_last_values`) in another; else all
    in one (cheaper for a short window, whose rows are few)."""
    source = raw_counters(from_ms, to_ms, con)
    if not split:
        return _counters(con, source, filters)
    counters = _counters(con, source, filters, _NO_LAST)
    keys = [tuple(c[:7]) for c in counters if c.type in _LAST_TYPES]
    last = _last_values(con, from_ms, to_ms, filters, keys) if keys else {}
    out = []
    for c in counters:
        value_last, pending_last = last.get(tuple(c[:7]), (None, None))
        out.append(c._replace(value_last=value_last, pending_last=pending_last))
    return out


def _exact_latency(con: Any, from_ms: int, to_ms: int, filters: Filters,
                   hold: bool = False) -> LatencyMap:
    """Exact percentiles of the raw items of ``[from_ms, to_ms]``.

    Unless ``hold`` (or on the wide store), the rows are read twice (all timed types, then
    bundle loads alone) rather than held between the two groupings, which for a long window
    would hold millions of rows in memory."""
    items, where = raw_items(from_ms, to_ms, con, ('ms',), HIST_TYPES), filters.where()
    sql = f"""
WITH x AS {"" if hold or wide_store(con) else "NOT MATERIALIZED "}(
  SELECT type, release, CASE WHEN type = 'operation' THEN name END AS name, ms
  FROM {items.text} WHERE {where.text} AND type IN {HIST_TYPES!r} AND ms IS NOT NULL)
SELECT type, 'main' AS g, name AS k, quantile_cont(ms, {_QS}) FROM x GROUP BY ALL
UNION ALL
SELECT type, 'release', release, quantile_cont(ms, {_QS}) FROM x
WHERE type = 'bundle_load' GROUP BY ALL"""
    rows = con.execute(sql, [*items.params, *where.params]).fetchall()
    return {(t, g, k): Latency(*q) for t, g, k, q in rows}


_HIST_GROUP = """type, CASE WHEN type IN ('operation', 'bundle_load') THEN name END AS k,
  CASE WHEN type = 'bundle_load' THEN release END AS r, bin, CAST(sum(n) AS BIGINT)"""


def _sketch_latency(con: Any, hist: Sql, filters: Filters) -> LatencyMap:
    """Percentiles from the histogram rows: one grouping by (type, operation name, bundle
    release, bin), summed in Python into the per-name and the per-release groups (one read of
    the rows: a CTE read twice is planned twice, and on ClickHouse run twice)."""
    where = filters.where()
    sql = f"SELECT {_HIST_GROUP} FROM ({hist.text}) WHERE {where.text} GROUP BY ALL"
    return _latency_of(con.execute(sql, [*hist.params, *where.params]).fetchall())


def _latency_of(rows: Iterable[tuple[Any, ...]]) -> LatencyMap:
    """Percentiles of histogram rows ``(type, name, release, bin, n)`` (see above)."""
    groups: Groups = defaultdict(dict)
    _add_hist(groups, rows)
    return _quantiles(groups)


# (type, "main" | "release" | "cached", name or release) -> {bin: count}
Groups = dict[tuple[str, str, str | None], dict[int, int]]


def _add_hist(groups: Groups, rows: Iterable[tuple[Any, ...]]) -> None:
    for t, k, r, b, n in rows:
        if t == "bundle_load":  # k: first or cached (None on a store without the split)
            for key in ((t, "main", None), (t, "release", r), (t, "cached", k)):
                group = groups.setdefault(key, {})
                group[b] = group.get(b, 0) + n
            continue
        main = groups.setdefault((t, "main", k), {})
        main[b] = main.get(b, 0) + n


def _quantiles(groups: Groups) -> LatencyMap:
    out: LatencyMap = {}
    for key, counts in groups.items():
        bins = sorted(counts)
        out[key] = Latency(*sketch.quantiles(bins, [counts[b] for b in bins], QUANTILES))
    return out


# the counter aggregate of one span: MERGE, and the time of each "last" value (arg_max skips
# NULL values, so a span's last value may be older than its last_ts)
_SPAN_MERGE = (rollup.MERGE + ", max(last_ts) FILTER (WHERE value_last IS NOT NULL), "
               "max(last_ts) FILTER (WHERE pending_last IS NOT NULL)")
_SPAN_COUNTERS = ("SELECT span, " + _KEYS + ", " + _SPAN_MERGE
                  + " FROM ({source}) WHERE {where} GROUP BY ALL")

Merged = dict[tuple[Any, ...], list[Any]]


# the raw rest of a window once for both: counter rows grouped by key and histogram bins
_RAW_REST = (f"SELECT {_KEYS}, bin, ci_bin, {_SPAN_MERGE} FROM (SELECT *, "
             f"CASE WHEN type IN {HIST_TYPES!r} AND ms_sum IS NOT NULL THEN "
             f"{sketch.bin_sql('ms_sum')} END AS bin, CASE WHEN ci_ms IS NOT NULL THEN "
             f"{sketch.bin_sql('ci_ms')} END AS ci_bin FROM ({{rows}})) "
             "WHERE {where} GROUP BY ALL")


def _cached_window(con: Any, window: Window, filters: Filters,
                   cache: SpanCache) -> tuple[list[Counter], LatencyMap]:
    """Counters and percentiles of a rollup window: its spans' aggregates from the cache
    where it holds them (else read and kept), its raw rest in one statement for both."""
    merged = _cached_counters(con, window, filters, cache)
    groups = _cached_hist(con, window, filters, cache)
    where = filters.where()
    rows = con.execute(_RAW_REST.format(rows=window.raw_counters.text, where=where.text),
                       [*window.raw_counters.params, *where.params]).fetchall()
    _merge_rows(merged, (row[:7] + row[9:] for row in rows))
    hist = []
    for row in rows:
        type_, release, name, cached, bin_, ci_bin, n = (row[0], row[1], row[2], row[5],
                                                         row[7], row[8], row[9])
        if bin_ is not None:
            k = (name if type_ == "operation" else
                 ("cached" if cached else "first") if type_ == "bundle_load" else None)
            hist.append((type_, k, release if type_ == "bundle_load" else None, bin_, n))
        if ci_bin is not None:
            hist.append((rollup.CI_TYPE, None, None, ci_bin, n))
    _add_hist(groups, hist)
    return [Counter(*key, *v[:10]) for key, v in merged.items()], _quantiles(groups)


def _cached_counters(con: Any, window: Window, filters: Filters, cache: SpanCache) -> Merged:
    """The spans' counter aggregates of a rollup window by key (a copy, to merge more
    into), from the cache where it holds them, merged as ``rollup.MERGE`` merges rows."""
    what = ("counters", filters, window.any_browser)
    _, spans = read_spans(con, window, filters, cache, what, _SPAN_COUNTERS, rest=False)
    merged: Merged = merge_spans(window, cache, what, spans, _merge_rows, len)
    return {key: list(values) for key, values in merged.items()}  # the cached one is shared


def _merge_rows(merged: Merged, rows: Iterable[tuple[Any, ...]]) -> None:
    for row in rows:
        key = row[:7]
        into = merged.get(key)
        if into is None:
            merged[key] = list(row[7:])
        else:
            _merge_into(into, row[7:])


def _add(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else a + b


def _max(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


def _merge_into(into: list[Any], row: tuple[Any, ...]) -> None:
    """``into`` += ``row``: (n, ms_n, ms_sum, ms_max, bytes_sum, value_max, value_last,
    last_ts, synced_sum, pending_last, value_ts, pending_ts), as ``rollup.MERGE`` would."""
    for i in (0, 1, 2, 4, 8):
        into[i] = _add(into[i], row[i])
    for i in (3, 5, 7):
        into[i] = _max(into[i], row[i])
    for value, at in ((6, 10), (9, 11)):  # arg_max: the non-NULL value of the latest time
        if row[at] is not None and (into[at] is None or row[at] > into[at]):
            into[value], into[at] = row[value], row[at]


_SPAN_HIST = ("SELECT span, " + _HIST_GROUP + " FROM ({source}) WHERE {where} GROUP BY ALL")


def _cached_hist(con: Any, window: Window, filters: Filters, cache: SpanCache) -> Groups:
    """The spans' histogram groups of a rollup window (a copy), from the cache where it
    holds them."""
    what = ("hist", filters, window.any_browser)
    _, spans = read_spans(con, window, filters, cache, what, _SPAN_HIST, hist=True, rest=False)
    groups: Groups = merge_spans(window, cache, what, spans, _add_hist,
                                 lambda held: sum(map(len, held.values())))
    return {key: dict(counts) for key, counts in groups.items()}  # the cached one is shared


def summary(
    con: Any,
    *,
    project: str,
    window_s: int,
    now_ms: int,
    release: str | None = None,
    browser: str | None = None,
    operation: str | None = None,
    exact: bool = False,
    exact_max_s: int = EXACT_MAX_S,
    split: bool = False,
    cache: SpanCache | None = None,
) -> Json:
    """Counts, latency percentiles, error rate, memory, offline and engagement over a window;
    with ``split`` also the first-vs-cached bundle loads (:mod:`.loads`) in ``bundle_load``.

    With ``cache`` a rollup answer reads from DuckDB only the rollup spans the cache does not
    hold for this snapshot (see :mod:`.cache`), and keeps what it read there; the answer is
    the same (sums of floating-point values up to the order they are added in)."""
    if window_s <= 0:
        raise WindowError(f"window must be greater than zero, got {window_s}s")
    filters = Filters(project, release, browser, operation)
    from_ms = now_ms - window_s * 1000
    with snapshot(con):
        if exact or window_s <= exact_max_s:
            # a window up to exact_max_s is read the cheaper way; a longer one within the
            # memory limit (see _LAST)
            short = window_s <= exact_max_s
            counters = _raw_counters(con, from_ms, now_ms, filters, split=not short)
            latency = _exact_latency(con, from_ms, now_ms, filters, hold=short)
            meta: Json = {"approximate": False, "relative_error": 0.0, "source": "raw"}
            loads = bundle_split(con, filters, from_ms, now_ms) if split else None
        else:
            window = rollup_window(con, from_ms, now_ms, filters=filters)
            if cache is None or window.mark is None:
                counters = _counters(con, window.counters, filters)
                latency = _sketch_latency(con, window.hist, filters)
            else:
                counters, latency = _cached_window(con, window, filters, cache)
            meta = {"approximate": True, "relative_error": sketch.ALPHA, "source": "rollup"}
            loads = None
            if split:  # the wide store's rollup keeps no split: read it from raw loads there
                loads = (bundle_split(con, filters, from_ms, now_ms) if wide_store(con)
                         else rollup_split(counters, latency))
    answer = {
        "window_s": window_s,
        "from_ms": from_ms,
        "to_ms": now_ms,
        **meta,
        **sections(counters, latency),
    }
    if loads is not None:
        answer["bundle_load"].update(loads)
    return answer


def sections(counters: list[Counter], latency: LatencyMap) -> Json:
    """Every summary section from the window's counter rows and percentiles."""
    return {
        "events": _events(counters),
        "bundle_load": _bundle_load(counters, latency),
        "runtime_init": _timed([c for c in counters if c.type == "runtime_init"],
                               latency.get(("runtime_init", "main", None))),
        "operations": _operations(counters, latency),
        "errors": _errors(counters),
        "memory": _memory(counters),
        "offline": _offline(counters),
        "engagement": _engagement(counters),
        "features": _features(counters),
    }


def _n(counters: Iterable[Counter]) -> int:
    return sum(c.n for c in counters)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _by(counters: Iterable[Counter], field: str) -> dict[str | None, list[Counter]]:
    groups: dict[str | None, list[Counter]] = defaultdict(list)
    for c in counters:
        groups[getattr(c, field)].append(c)
    return groups


def _label(key: str | None) -> str:
    return UNKNOWN if key is None else key


def _ranked(counts: dict[str | None, int]) -> dict[str, int]:
    labelled = [(_label(k), n) for k, n in counts.items()]
    return dict(sorted(labelled, key=lambda kv: (-kv[1], kv[0])))


def _timed(counters: list[Counter], latency: Latency | None) -> Json:
    ms_n = sum(c.ms_n for c in counters)
    ms_sum = sum(c.ms_sum or 0.0 for c in counters)
    p = latency or Latency(None, None, None)
    return {
        "count": _n(counters),
        "p50_ms": p.p50,
        "p95_ms": p.p95,
        "p99_ms": p.p99,
        "avg_ms": ms_sum / ms_n if ms_n else None,
    }


def _events(counters: list[Counter]) -> dict[str, int]:
    return _ranked({t: _n(group) for t, group in _by(counters, "type").items()})


def _bundle_stats(counters: list[Counter], latency: Latency | None) -> Json:
    count = _n(counters)
    return {
        **_timed(counters, latency),
        "cached_ratio": _ratio(_n(c for c in counters if c.cached), count),
        "bytes_total": sum(c.bytes_sum or 0 for c in counters),
    }


def _bundle_load(counters: list[Counter], latency: LatencyMap) -> Json:
    loads = [c for c in counters if c.type == "bundle_load"]
    by_release = {
        _label(release): _bundle_stats(group, latency.get(("bundle_load", "release", release)))
        for release, group in sorted(_by(loads, "release").items(), key=lambda kv: _label(kv[0]))
    }
    return {**_bundle_stats(loads, latency.get(("bundle_load", "main", None))),
            "by_release": by_release}


def _operations(counters: list[Counter], latency: LatencyMap) -> Json:
    ops = _by((c for c in counters if c.type == "operation"), "name")
    out = {
        _label(name): {
            **_timed(group, latency.get(("operation", "main", name))),
            "errors": _n(c for c in group if c.ok is False),
            "offline": _n(c for c in group if c.offline),
        }
        for name, group in ops.items()
    }
    return dict(sorted(out.items(), key=lambda kv: (-kv[1]["count"], kv[0])))


def _errors(counters: list[Counter]) -> Json:
    errors = [c for c in counters if c.type == "error"]
    count, ops = _n(errors), _n(c for c in counters if c.type == "operation")
    return {
        "count": count,
        "rate": count / ops if ops else 0.0,
        "by_category": _ranked({k: _n(g) for k, g in _by(errors, "category").items()}),
    }


def _last(counters: list[Counter], field: str) -> Any:
    known = [c for c in counters if getattr(c, field) is not None and c.last_ts is not None]
    return getattr(max(known, key=lambda c: c.last_ts or 0), field) if known else None


def _memory(counters: list[Counter]) -> Json:
    memory = [c for c in counters if c.type == "memory"]
    last = _last(memory, "value_last")
    peaks = [c.value_max for c in memory if c.value_max is not None]
    return {
        "last_bytes": None if last is None else int(last),
        "max_bytes": int(max(peaks)) if peaks else None,
    }


def _offline(counters: list[Counter]) -> Json:
    syncs = [c for c in counters if c.type == "offline_sync"]
    count = _n(syncs)
    return {
        "operations": _n(c for c in counters if c.type == "operation" and c.offline),
        "syncs": count,
        "sync_success_rate": _ratio(_n(c for c in syncs if c.ok is not False), count),
        "synced": sum(c.synced_sum or 0 for c in syncs),
        "pending": _last(syncs, "pending_last"),
    }


def _engagement(counters: list[Counter]) -> Json:
    visits = [c for c in counters if c.type == "engagement"]
    offline = sum(c.ms_sum or 0.0 for c in visits if c.offline)
    total = sum(c.ms_sum or 0.0 for c in visits)
    pages: dict[str, float] = defaultdict(float)
    for c in visits:
        pages[_label(c.name)] += c.ms_sum or 0.0
    top = sorted(pages.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_PAGES]
    return {
        "visible_ms_total": total,
        "online_ms": total - offline,
        "offline_ms": offline,
        "by_page": dict(top),
    }


def _features(counters: list[Counter]) -> dict[str, int]:
    features = (c for c in counters if c.type == "feature")
    return _ranked({name: _n(group) for name, group in _by(features, "name").items()})
