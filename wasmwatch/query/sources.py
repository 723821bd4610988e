"""Where a query reads from: raw ``items`` over a time range, or rollup buckets; and filters.

Both kinds of source are SQL yielding the same columns (see :func:`wasmwatch.query.rollup.
counter_rows`), so one aggregate serves both: a raw source yields one counter row per item, a
rollup source yields pre-aggregated rows. :class:`Filters` then narrows either by column.

:func:`rollup_window` mixes the two so that a long window is exact in its counts: whole
buckets from the rollup, and from raw rows the parts of the window that cut a bucket plus the
items committed since the rollup was last brought up to date (batches above its watermark).
Items dated after the window's end are in no part, so future-dated items count only once
their time has come. Call it, and the queries over its answer, inside one transaction
(:func:`snapshot`) so the watermark and the rollup rows agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from wasmwatch.query import rollup
from wasmwatch.query.rollup import HIST_TYPES, Span
from wasmwatch.query.sketch import bin_sql
from wasmwatch.store import layout

__all__ = [
    "EXACT_MAX_S",
    "Filters",
    "Sql",
    "Window",
    "raw_counters",
    "raw_items",
    "rollup_counters",
    "rollup_hist",
    "rollup_window",
    "snapshot",
    "tagged",
    "wide_store",
]

EXACT_MAX_S = 3600  # windows up to this long are answered exactly from raw rows

Param = str | int | float | None


@dataclass(frozen=True)
class Sql:
    """A SQL fragment and its positional parameters, in order."""

    text: str
    params: tuple[Param, ...] = ()


@dataclass(frozen=True)
class Filters:
    """Which items count: one project, optionally one release, browser family and operation.

    ``operation`` narrows operations and errors (to those in that operation) and leaves the
    other item types alone.
    """

    project: str
    release: str | None = None
    browser: str | None = None
    operation: str | None = None

    def where(self) -> Sql:
        """The filters as a boolean SQL expression over item or rollup columns."""
        parts = ["project = ?"]
        params: list[Param] = [self.project]
        if self.release is not None:
            parts.append("release = ?")
            params.append(self.release)
        if self.browser is not None:
            parts.append("browser = ?")
            params.append(self.browser)
        if self.operation is not None:
            parts.append("(type NOT IN ('operation', 'error') OR name = ?)")
            params.append(self.operation)
        return Sql(" AND ".join(parts), tuple(params))


def wide_store(con: Any) -> bool:
    """The store's ``items`` is one wide table whose rollups are filled as rows land (the
    ClickHouse store's reader says so), not DuckDB's per-type tables, batches and watermark."""
    return bool(getattr(con, "wide_items", False))


def _between(from_ms: int, to_ms: int, columns: tuple[str, ...] | None, con: Any,
             types: tuple[str, ...] | None = None, sparse: tuple[str, ...] = ()) -> str:
    if wide_store(con):
        return (f"SELECT {', '.join(columns or ('*',))} FROM items "
                f"WHERE ts >= {int(from_ms)} AND ts <= {int(to_ms)}")
    kinds = layout.TYPES if types is None else types
    if columns is not None and layout.carries(columns, kinds, sparse):
        return layout.carried_ranges([(from_ms, to_ms)], columns, kinds)
    batches = None if con is None else layout.batch_range(con, from_ms, to_ms, kinds)
    return layout.wide_between(from_ms, to_ms, columns, batches, kinds)


#: the columns :meth:`Filters.where` reads
FILTER_COLUMNS = ("project", "type", "release", "browser", "name")


def raw_items(from_ms: int, to_ms: int, con: Any = None, columns: tuple[str, ...] | None = None,
              types: tuple[str, ...] | None = None) -> Sql:
    """Raw items with ``from_ms <= ts <= to_ms``, as a parenthesised subquery.

    Given ``con``, the batches of those items are looked up first, so the join with the batch
    contexts reads only their run of batches. ``columns`` (besides :data:`FILTER_COLUMNS`,
    always there) and ``types`` narrow what is read: only those item types' tables (the caller
    still filters by type on a wide store, which reads every type)."""
    wanted = None if columns is None else tuple(dict.fromkeys((*FILTER_COLUMNS, *columns)))
    return Sql(f"({_between(from_ms, to_ms, wanted, con, types)})")


def _narrow(from_ms: int, to_ms: int, con: Any, types: tuple[str, ...] | None = None) -> str:
    """Items of ``[from_ms, to_ms]`` with just the columns a counter row reads."""
    return f"({_between(from_ms, to_ms, rollup.SOURCE_COLUMNS, con, types, sparse=_SPARSE)})"


#: a counter row reads ``page`` only for engagement, which carries it (see ``layout.CARRIED``)
_SPARSE = ("page",)
_CARRIED = layout.carries(rollup.SOURCE_COLUMNS, layout.TYPES, _SPARSE)


def raw_counters(from_ms: int, to_ms: int, con: Any = None) -> Sql:
    """One counter row per raw item with ``from_ms <= ts <= to_ms`` (``con``: see
    :func:`raw_items`)."""
    return Sql(rollup.counter_rows(_narrow(from_ms, to_ms, con)))


def _union(spans: tuple[Span, ...], hist: bool, any_browser: bool = False,
           tags: tuple[int, ...] | None = None) -> Sql:
    parts = []
    for i, span in enumerate(spans):
        tier = span.tier
        if not hist and any_browser and tier.counters_any:
            fields, table = rollup.ANY_FIELDS, tier.counters_any
        elif not hist:
            fields, table = rollup.COUNTER_FIELDS, tier.table
        elif any_browser and tier.hist_any:
            fields, table = rollup.HIST_ANY_FIELDS, tier.hist_any
        else:
            fields, table = rollup.HIST_FIELDS, tier.hist
        tag = "" if tags is None else f"{tags[i]} AS span, "
        parts.append(f"SELECT {tag}{fields} FROM {table} WHERE t >= ? AND t < ?")
    params = tuple(ms for span in spans for ms in (span.start_ms, span.end_ms))
    return Sql("\nUNION ALL\n".join(parts), params)


def rollup_counters(spans: tuple[Span, ...], any_browser: bool = False) -> Sql:
    """Counter rows of the rollup buckets in ``spans``; with ``any_browser`` from the tables
    without browser (and release but for bundle loads), for windows not filtered by either."""
    return _union(spans, hist=False, any_browser=any_browser)


def rollup_hist(spans: tuple[Span, ...], any_browser: bool = False) -> Sql:
    """Histogram rows of the rollup buckets in ``spans``; with ``any_browser`` from the tables
    without browser (and release but for bundle loads), for windows not filtered by either."""
    return _union(spans, hist=True, any_browser=any_browser)


@dataclass(frozen=True)
class Window:
    """A window read from the rollup: counter rows and histogram rows covering it exactly.

    ``counters`` and ``hist`` are the whole of it; the parts for a reader that keeps some
    spans' aggregates (:mod:`.cache`): ``spans`` (read with :func:`tagged`), ``raw_counters``
    and ``raw_hist`` (the rest, from raw rows), ``any_browser`` (which tables the spans are
    read from) and ``mark`` (the rollup's watermark in this snapshot; None on a wide store)."""

    counters: Sql
    hist: Sql
    spans: tuple[Span, ...]
    raw_counters: Sql = Sql("")
    raw_hist: Sql = Sql("")
    any_browser: bool = False
    mark: int | None = None


def tagged(window: Window, which: tuple[int, ...], hist: bool, rest: bool = True) -> Sql:
    """Counter (or histogram) rows of the window's spans numbered ``which`` and (with
    ``rest``) of its raw rest, each row with its span's number in a first column ``span``
    (-1: the raw rest)."""
    spans = tuple(window.spans[i] for i in which)
    part = _union(spans, hist, window.any_browser, which)
    if not rest:
        return part
    raw = window.raw_hist if hist else window.raw_counters
    fields = rollup.HIST_FIELDS if hist else rollup.COUNTER_FIELDS
    rows = f"SELECT -1 AS span, {fields} FROM ({raw.text})"
    glue = "\nUNION ALL\n" if spans else ""
    return Sql(f"{part.text}{glue}{rows}", (*part.params, *raw.params))


def _raw_rest(con: Any, spans: tuple[Span, ...], from_ms: int, to_ms: int,
              after_batch: int | None, types: tuple[str, ...] = layout.TYPES) -> Sql:
    """Raw items of ``[from_ms, to_ms]`` the rollup buckets in ``spans`` do not hold (the
    columns of :data:`~wasmwatch.query.rollup.SOURCE_COLUMNS`; of ``types`` only, on the
    per-type store); ``after_batch``: the rollup's watermark if a stored batch is above it."""
    if not spans:
        return Sql(_narrow(from_ms, to_ms, con, types))
    first = min(s.start_ms for s in spans)
    end = max(s.end_ms for s in spans)
    if wide_store(con):  # the rollup holds every stored row: only the edges come from raw rows,
        # in one scan (ClickHouse plans each branch of a UNION anew: tens of ms a statement)
        return Sql(f"(SELECT {', '.join(rollup.SOURCE_COLUMNS)} FROM items WHERE "
                   f"(ts >= {int(from_ms)} AND ts < {int(first)}) OR "
                   f"(ts >= {int(end)} AND ts <= {int(to_ms)}))")
    ranges = [(lo, hi) for lo, hi in ((from_ms, first - 1), (end, to_ms)) if lo <= hi]
    parts = []
    cols = rollup.SOURCE_COLUMNS
    if ranges and _CARRIED:  # both edges in one scan per table, no join
        parts.append(f"SELECT * FROM ({layout.carried_ranges(ranges, cols, types)})")
    elif ranges:  # both edges in one scan per table, joined to their two runs of batches
        batches = layout.batch_ranges(con, ranges, types)
        parts.append(f"SELECT * FROM ({layout.wide_ranges(ranges, cols, batches, types)})")
    params: tuple[Param, ...] = ()
    if after_batch is not None:
        newer = (layout.carried_ranges([], cols, types, min_batch=after_batch + 1) if _CARRIED
                 else layout.wide_select(after_batch + 1, cols, types))
        # inline (integers): the histogram rows read the raw rows twice (see _raw_hist)
        parts.append(f"SELECT * FROM ({newer}) WHERE ts >= {int(first)} AND ts < {int(end)}")
    if not parts:
        return Sql(f"({layout.wide_between(1, 0, rollup.SOURCE_COLUMNS, (1, 0))})")
    return Sql("(" + "\n UNION ALL ".join(parts) + ")", params)


def _has_newer(con: Any, after_batch: int) -> bool:
    """Some stored batch is above the rollup's watermark (not aggregated yet)."""
    ((last,),) = con.execute("SELECT coalesce(max(batch), 0) FROM batches").fetchall()
    return int(last) > after_batch


def _raw_hist(counters: str, wide: bool = False) -> str:
    """Histogram rows of raw counter rows, as :func:`rollup.apply` writes them (on the wide
    store as its materialized views do: no first-vs-cached names, no compile rows)."""
    if wide:
        return (f"SELECT t, project, type, release, browser, "
                f"CASE WHEN type = 'operation' THEN name END AS name, {bin_sql('ms_sum')} AS bin, "
                f"1 AS n FROM ({counters}) WHERE type IN {HIST_TYPES!r} AND ms_sum IS NOT NULL")
    binned = (f"(SELECT *, CASE WHEN type IN {HIST_TYPES!r} AND ms_sum IS NOT NULL THEN "
              f"{bin_sql('ms_sum')} END AS bin, CASE WHEN ci_ms IS NOT NULL THEN "
              f"{bin_sql('ci_ms')} END AS ci_bin FROM ({counters}))")
    return rollup.hist_rows(binned)


def rollup_window(con: Any, from_ms: int, to_ms: int, step_ms: int | None = None,
                  filters: Filters | None = None) -> Window:
    """Counter and histogram rows of every item with ``from_ms <= ts <= to_ms``.

    Whole buckets come from the rollup (with ``step_ms``, a chart's step, only of the tiers
    whose width divides it, so each bucket lies in one step), the rest from raw rows: the edges
    that cut a bucket, and batches newer than the rollup's watermark. When ``filters`` name no
    release and no browser, histogram rows come from the smaller any-browser tables (their
    ``browser`` is NULL, their ``release`` set for bundle loads only).
    """
    # the ClickHouse store keeps no any-browser histogram table
    any_browser = (not wide_store(con) and filters is not None and filters.release is None
                   and filters.browser is None)
    tiers: tuple[rollup.Tier, ...] = rollup.TIERS if wide_store(con) else rollup.LOCAL_TIERS
    if step_ms is not None:
        tiers = tuple(t for t in tiers if step_ms % t.width_ms == 0) or tiers[:1]
    spans = rollup.whole_buckets(from_ms, to_ms, tiers=tiers)
    wide = wide_store(con)
    mark = None if wide else rollup.through_batch(con)
    after = None if mark is None or not _has_newer(con, mark) else mark
    raw = _raw_rest(con, spans, from_ms, to_ms, after)
    raw_counter_rows = rollup.counter_rows(raw.text)
    # the histogram's raw rows: of the timed types only (fewer branches to plan and scan)
    timed = raw if wide else _raw_rest(con, spans, from_ms, to_ms, after, HIST_TYPES)
    counters, hist = rollup_counters(spans, any_browser), rollup_hist(spans, any_browser)
    glue = "\nUNION ALL\n" if spans else ""
    raw_hist = Sql(_raw_hist(rollup.counter_rows(timed.text), wide), timed.params)
    return Window(
        Sql(f"{counters.text}{glue}SELECT {rollup.COUNTER_FIELDS} FROM ({raw_counter_rows})",
            (*counters.params, *raw.params)),
        Sql(f"{hist.text}{glue}{raw_hist.text}", (*hist.params, *raw_hist.params)),
        spans, Sql(raw_counter_rows, raw.params), raw_hist, any_browser, mark)


@contextmanager
def snapshot(con: Any) -> Iterator[Any]:
    """One read transaction: every query inside sees the same committed state (a wide store
    has no transactions: each ClickHouse query reads the parts committed when it starts)."""
    if wide_store(con):
        yield con
        return
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    finally:
        con.execute("ROLLBACK")
