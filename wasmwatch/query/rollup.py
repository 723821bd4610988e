"""Rollups of ``items`` per minute, 5 minutes, hour and UTC day, so long windows need not
scan raw rows.

Tiers :data:`TIERS` (minute, hour) are kept by every store (ClickHouse fills them by
materialized views); the embedded DuckDB store keeps :data:`LOCAL_TIERS`, which add 5 minutes
and days. Each tier has these tables:

* ``rollup_<tier>`` (``rollup_minute``, ``rollup_5m``, ``rollup_hour``, ``rollup_day``): one
  row per bucket start ``t`` (epoch ms) and key
  ``(project, type, release, browser, name, ok, offline, cached, category)`` with exact counts,
  sums, maxima and "last" values. ``name`` is kept only where a summary needs it: operation
  name, the operation an error happened in, feature name, engagement page (else the batch's
  page). ``ok`` is kept only for operations and syncs, ``offline`` for operations and
  engagement, ``cached`` for bundle loads, ``category`` for errors. So a minute holds one row
  per combination in use, however many items arrive.
* ``rollup_hist_<tier>``: a log-bucketed latency histogram (see :mod:`wasmwatch.query.sketch`)
  of ``ms`` for ``bundle_load``, ``runtime_init`` and ``operation``, one row per
  ``(t, project, type, release, browser, name, bin)``; ``name`` is the operation name, and for
  bundle loads ``first`` or ``cached`` (the dashboard's first-vs-cached split). Rows of type
  ``bundle_ci`` (:data:`CI_TYPE`) are the histogram of a bundle load's compile + instantiate
  ms. A data dir from before the split gets these rows at open (:func:`add_split`).
* ``rollup_hist_any_<tier>`` and ``rollup_any_<tier>`` (not for minutes): the histograms and
  the counter rows without the browser, and with the release only for ``bundle_load`` (the one
  type shown per release): what a window without a release or browser filter reads, a sixth
  to a twentieth of the rows on the benchmark's data. (A minute holds too few items per key
  for this to pay.)

A data dir from before a table fills it at open: the 5-minute tier from minutes, days from
hours, the any-browser tables from the full ones of their tier.

The coarser tiers exist for speed: a 24 h window cut at hh:01:17 reads 22 hour buckets, at
most 2 x 11 five-minute buckets and 2 x 4 minute buckets at its edges (see
:func:`whole_buckets`) instead of 1440 minute buckets; 30 days read 29 days. Only buckets
wholly inside a window are read from the rollup; the parts of a window that cut a minute, and
items committed since the last aggregation, come from raw rows (see
:func:`wasmwatch.query.sources.rollup_window`), so counts are exact at every edge.

``rollup_state`` holds one row: ``through_batch``, the highest batch number the rollup holds.
:func:`apply` sets it in the same transaction that appends the aggregates, so a reader in one
transaction sees rollup rows and watermark that agree; rows of later batches are read raw.

How the writer uses it:

* :func:`apply` in a transaction of the writer, over the committed (deduplicated) rows not yet
  aggregated, which sit in a table or view ``batch`` with the columns of ``items``. It
  aggregates the batch into minute buckets once (two temp tables: counters and histogram
  bins), then appends one pre-aggregated row per key and bucket, made from those, to each
  table of each tier (one ``INSERT ... SELECT ... GROUP BY`` each), marked ``merged = false``,
  and moves ``rollup_state.through_batch`` to the newest stored batch. Call it only when every
  committed batch is in ``batch`` or already aggregated (the store's flush does).
* :func:`compact` every 30-60 s, from one task, outside any transaction (it runs its own). It
  rewrites every bucket that started more than ``settle_ms`` ago and holds unmerged rows as one
  merged row per key. Readers always re-aggregate, so answers are the same before and after;
  compaction only keeps the tables small. A concurrent writer only inserts, so it never
  conflicts with the rewrite, and rows it commits meanwhile stay unmerged until the next run.
* :func:`delete_before` with the retention cutoff, next to the raw retention delete.
* :func:`rebuild` once, if the rollup ever has to be made again from the raw items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wasmwatch.query.sketch import bin_sql
from wasmwatch.store import layout

__all__ = [
    "HIST_TYPES",
    "HOUR",
    "MINUTE",
    "ROLLUP_DDL",
    "TIERS",
    "Span",
    "Tier",
    "add_split",
    "apply",
    "compact",
    "counter_rows",
    "delete_before",
    "mark_complete",
    "rebuild",
    "through_batch",
    "whole_buckets",
]

Connection = Any  # a duckdb.DuckDBPyConnection or a cursor of one


@dataclass(frozen=True)
class Tier:
    """One bucket width and its two tables."""

    width_ms: int
    table: str
    hist: str
    hist_any: str | None
    #: the counter rows without browser, release only for bundle loads (like ``hist_any``)
    counters_any: str | None = None


MINUTE = Tier(60_000, "rollup_minute", "rollup_hist_minute", None)
FIVE = Tier(300_000, "rollup_5m", "rollup_hist_5m", "rollup_hist_any_5m", "rollup_any_5m")
HOUR = Tier(3_600_000, "rollup_hour", "rollup_hist_hour", "rollup_hist_any_hour", "rollup_any_hour")
DAY = Tier(86_400_000, "rollup_day", "rollup_hist_day", "rollup_hist_any_day", "rollup_any_day")
#: the tiers every store keeps (ClickHouse fills these by materialized views)
TIERS = (MINUTE, HOUR)
#: the tiers the embedded store keeps, finest first: its windows' edges read 5-minute buckets,
#: and a long window whole days (UTC)
LOCAL_TIERS = (MINUTE, FIVE, HOUR, DAY)
#: a tier added after data dirs existed, and the finer tier it is filled from at open
_FILLED_FROM = ((FIVE, MINUTE), (DAY, HOUR))

HIST_TYPES = ("bundle_load", "runtime_init", "operation")
SETTLE_MS = 120_000

KEY = "project, type, release, browser, name, ok, offline, cached, category"
HIST_KEY = "project, type, release, browser, name, bin"
HIST_ANY_KEY = "project, type, release, name, bin"  # release: of bundle loads only
ANY_KEY = "project, type, release, name, ok, offline, cached, category"  # the same

# One item as one counter row: the same shape a rollup row has, so a raw scan and the rollup
# tables are read by the same aggregate (MERGE).
#: the item columns the rollup reads: a store may stage just these for ``apply``
SOURCE_COLUMNS = ("ts", "project", "type", "release", "browser", "name", "page", "ok", "offline",
                  "cached", "category", "ms", "transfer_bytes", "value", "synced", "pending",
                  "compile_ms", "instantiate_ms")
#: the histogram-only type of a bundle load's compile + instantiate ms
CI_TYPE = "bundle_ci"

_COUNTER_ROW = """
SELECT ts AS t, project, type, release, browser,
  CASE WHEN type IN ('operation', 'error', 'feature') THEN name
       WHEN type = 'engagement' THEN coalesce(name, page) END AS name,
  CASE WHEN type IN ('operation', 'offline_sync') THEN ok END AS ok,
  CASE WHEN type IN ('operation', 'engagement') THEN offline END AS offline,
  CASE WHEN type = 'bundle_load' THEN cached END AS cached,
  CASE WHEN type = 'error' THEN category END AS category,
  1 AS n, CAST(ms IS NOT NULL AS INTEGER) AS ms_n, ms AS ms_sum, ms AS ms_max,
  transfer_bytes AS bytes_sum, value AS value_max, value AS value_last, ts AS last_ts,
  synced AS synced_sum, pending AS pending_last,
  CASE WHEN type = 'bundle_load' THEN compile_ms + instantiate_ms END AS ci_ms
FROM {source}"""

MERGE = """CAST(sum(n) AS BIGINT) AS n, CAST(sum(ms_n) AS BIGINT) AS ms_n,
  sum(ms_sum) AS ms_sum, max(ms_max) AS ms_max, CAST(sum(bytes_sum) AS BIGINT) AS bytes_sum,
  max(value_max) AS value_max, arg_max(value_last, last_ts) AS value_last,
  max(last_ts) AS last_ts, CAST(sum(synced_sum) AS BIGINT) AS synced_sum,
  arg_max(pending_last, last_ts) AS pending_last"""

# The new items staged once per batch (a batch may be a view over a file): counter rows plus
# the histogram bin of every timed item of a HIST_TYPES type (else NULL).
_STAGE = f"""
CREATE OR REPLACE TEMP TABLE _ww_stage AS
SELECT *, CASE WHEN type IN {HIST_TYPES!r} AND ms_sum IS NOT NULL THEN {bin_sql("ms_sum")} END
  AS bin, CASE WHEN ci_ms IS NOT NULL THEN {bin_sql("ci_ms")} END AS ci_bin
FROM ({{rows}})"""

#: a histogram row's ``name``: the operation's, and a bundle load's first-or-cached
HIST_NAME = ("CASE WHEN type = 'operation' THEN name WHEN type = 'bundle_load' THEN "
             "CASE WHEN coalesce(cached, false) THEN 'cached' ELSE 'first' END END")


def hist_rows(source: str) -> str:
    """Histogram rows of counter rows ``source`` that have ``bin`` and ``ci_bin``."""
    return f"""
SELECT t, project, type, release, browser, {HIST_NAME} AS name, bin, 1 AS n
FROM {source} WHERE bin IS NOT NULL
UNION ALL
SELECT t, project, '{CI_TYPE}' AS type, release, browser, NULL AS name, ci_bin AS bin, 1 AS n
FROM {source} WHERE ci_bin IS NOT NULL"""


_STAGED_HIST = hist_rows("_ww_stage")

HIST_MERGE = "CAST(sum(n) AS BIGINT) AS n"

_COUNTER_COLUMNS = """t BIGINT NOT NULL, project VARCHAR NOT NULL, type VARCHAR NOT NULL,
  release VARCHAR, browser VARCHAR, name VARCHAR, ok BOOLEAN, offline BOOLEAN, cached BOOLEAN,
  category VARCHAR, merged BOOLEAN NOT NULL, n BIGINT NOT NULL, ms_n BIGINT NOT NULL,
  ms_sum DOUBLE, ms_max DOUBLE, bytes_sum BIGINT, value_max DOUBLE, value_last DOUBLE,
  last_ts BIGINT, synced_sum BIGINT, pending_last BIGINT"""

_HIST_COLUMNS = """t BIGINT NOT NULL, project VARCHAR NOT NULL, type VARCHAR NOT NULL,
  release VARCHAR, browser VARCHAR, name VARCHAR, bin INTEGER NOT NULL,
  merged BOOLEAN NOT NULL, n BIGINT NOT NULL"""

#: the columns of a counter row and of a histogram row, in order (a UNION reads them so)
COUNTER_FIELDS = (f"t, {KEY}, n, ms_n, ms_sum, ms_max, bytes_sum, value_max, value_last, "
                  "last_ts, synced_sum, pending_last")
HIST_FIELDS = f"t, {HIST_KEY}, n"
#: the histogram row fields read from an any-browser table (no browser, as NULL)
HIST_ANY_FIELDS = "t, project, type, release, CAST(NULL AS VARCHAR) AS browser, name, bin, n"

_TO_ANY = ("SELECT t, project, type, CASE WHEN type = 'bundle_load' THEN release END AS release, "
           "name, bin, n FROM ({rows})")

#: the newest batch the rows being aggregated come from: the store's watermark when it sets
#: one (it aggregates beside later commits), else every stored batch
THROUGH = ("coalesce(getvariable('ww_through'), "
           "(SELECT coalesce(max(batch), 0) FROM batches))")
_MARK = f"UPDATE rollup_state SET through_batch = greatest(through_batch, {THROUGH})"

_ANY_COLUMNS = _COUNTER_COLUMNS.replace(" browser VARCHAR,", "")
#: the counter row fields read from an any-browser counter table (no browser, as NULL)
ANY_FIELDS = COUNTER_FIELDS.replace("release, browser,", "release, CAST(NULL AS VARCHAR) AS browser,")
_COUNTER_TO_ANY = ("SELECT * REPLACE (CASE WHEN type = 'bundle_load' THEN release END AS release) "
                   "FROM ({rows})")

_HIST_ANY_COLUMNS = """t BIGINT NOT NULL, project VARCHAR NOT NULL, type VARCHAR NOT NULL,
  release VARCHAR, name VARCHAR, bin INTEGER NOT NULL, merged BOOLEAN NOT NULL, n BIGINT NOT NULL"""

def _fill_from(tier: Tier, finer: Tier) -> list[str]:
    """A data dir from before ``tier``: fill it from a finer tier (same rows, same watermark)."""
    out = []
    for table, source, key, merge in ((tier.table, finer.table, KEY, MERGE),
                                      (tier.hist, finer.hist, HIST_KEY, HIST_MERGE)):
        out.append(
            f"INSERT INTO {table} BY NAME SELECT (t // {tier.width_ms}) * {tier.width_ms} AS t, "
            f"{key}, true AS merged, {merge} FROM {source} "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table}) GROUP BY ALL ORDER BY t")
    return out


def counter_rows(source: str) -> str:
    """SELECT making each item of ``source`` (table name or subquery) one counter row."""
    return _COUNTER_ROW.format(source=source)


def _bucketed(rows: str, width_ms: int, key: str, merge: str, merged: bool) -> str:
    return (
        f"SELECT (t // {width_ms}) * {width_ms} AS t, {key}, {merged} AS merged, {merge}\n"
        f"FROM ({rows}) GROUP BY ALL"
    )


_SPLIT_MARK = "first_vs_cached"


def _split_ddl() -> list[str]:
    """A data dir from before the first-vs-cached split: its bundle-load histogram rows (name
    NULL) are made again from the raw loads the rollup holds (batches up to the watermark),
    with the split and the compile + instantiate rows: one transaction per table (one for all
    of them does not fit a 160 MB memory limit on 10 M items), each guarded by its own old
    rows, so a restart part-way through finishes the rest."""
    old = "type = 'bundle_load' AND name IS NULL"
    loads = layout.wide_select(None, SOURCE_COLUMNS, types=("bundle_load",),
                               max_batch="(SELECT max(through_batch) FROM rollup_state)")
    binned = _STAGE.format(rows=counter_rows(f"({loads})")).split(" AS\n", 1)[1]
    out = ["CREATE OR REPLACE TEMP TABLE _ww_split AS SELECT t, project, type, release, browser, "
           f"name, cached, bin, ci_bin FROM ({binned})"]  # only what hist_rows reads
    for tier in LOCAL_TIERS:
        for table in (tier.hist, tier.hist_any):
            if table is None:
                continue
            rows = hist_rows("_ww_split")
            hist = (_bucketed(_TO_ANY.format(rows=rows), tier.width_ms, HIST_ANY_KEY, HIST_MERGE, True)
                    if table == tier.hist_any
                    else _bucketed(rows, tier.width_ms, HIST_KEY, HIST_MERGE, True))
            out += ["BEGIN TRANSACTION",
                    f"INSERT INTO {table} BY NAME SELECT * FROM ({hist}) "
                    f"WHERE EXISTS (SELECT 1 FROM {table} WHERE {old}) ORDER BY t",
                    f"DELETE FROM {table} WHERE {old}", "COMMIT",
                    "CHECKPOINT"]  # DuckDB holds deleted rows' info in memory until then
    return [*out, "DROP TABLE _ww_split",
            f"INSERT OR IGNORE INTO rollup_marks VALUES ('{_SPLIT_MARK}')"]


#: the statements that give an older data dir's rollup the first-vs-cached split
SPLIT_DDL = _split_ddl()


def add_split(con: Connection) -> bool:
    """Give the rollup of a data dir from before the first-vs-cached split its rows (see
    :data:`SPLIT_DDL`; ~10 s once for 10 M items), unless ``rollup_marks`` says it has them.
    Run once at open, after the layout upgrade. Returns True if it did."""
    if con.execute("SELECT 1 FROM rollup_marks WHERE name = ?", [_SPLIT_MARK]).fetchall():
        return False
    for statement in SPLIT_DDL:
        con.execute(statement)
    return True


ROLLUP_DDL: list[str] = [
    *(
        stmt
        for tier in LOCAL_TIERS
        for stmt in (
            f"CREATE TABLE IF NOT EXISTS {tier.table} ({_COUNTER_COLUMNS})",
            f"CREATE TABLE IF NOT EXISTS {tier.hist} ({_HIST_COLUMNS})",
        )
    ),
    *(stmt for tier, finer in _FILLED_FROM for stmt in _fill_from(tier, finer)),
    *(
        stmt
        for tier in LOCAL_TIERS if tier.hist_any
        for stmt in (
            f"CREATE TABLE IF NOT EXISTS {tier.hist_any} ({_HIST_ANY_COLUMNS})",
            # a data dir from before the any-browser table: fill it from the full one
            f"INSERT INTO {tier.hist_any} BY NAME SELECT t, {HIST_ANY_KEY}, true AS merged, "
            f"{HIST_MERGE} FROM ({_TO_ANY.format(rows=f'SELECT * FROM {tier.hist}')}) "
            f"WHERE NOT EXISTS (SELECT 1 FROM {tier.hist_any}) GROUP BY ALL ORDER BY t",
        )
    ),
    *(
        stmt
        for tier in LOCAL_TIERS if tier.counters_any
        for stmt in (
            f"CREATE TABLE IF NOT EXISTS {tier.counters_any} ({_ANY_COLUMNS})",
            # a data dir from before the any-browser counters: fill them from the full ones
            f"INSERT INTO {tier.counters_any} BY NAME SELECT t, {ANY_KEY}, true AS merged, "
            f"{MERGE} FROM ({_COUNTER_TO_ANY.format(rows=f'SELECT * FROM {tier.table}')}) "
            f"WHERE NOT EXISTS (SELECT 1 FROM {tier.counters_any}) GROUP BY ALL ORDER BY t",
        )
    ),
    "CREATE TABLE IF NOT EXISTS rollup_state (through_batch BIGINT NOT NULL)",
    # a data dir from before the watermark: its rollup holds every stored batch
    "INSERT INTO rollup_state SELECT coalesce(max(batch), 0) FROM batches "
    "WHERE NOT EXISTS (SELECT 1 FROM rollup_state)",
    "CREATE TABLE IF NOT EXISTS rollup_marks (name VARCHAR PRIMARY KEY)",
    # a new data dir has the first-vs-cached split from the start (see add_split)
    f"INSERT OR IGNORE INTO rollup_marks SELECT '{_SPLIT_MARK}' "
    f"WHERE NOT EXISTS (SELECT 1 FROM {MINUTE.hist})",
]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def apply(con: Connection, batch: str) -> None:
    """Aggregate the new items in table/view ``batch`` into every rollup table.

    The items are aggregated once, into the finest tier's buckets (two temp tables: counter
    rows and histogram rows); every tier's rows, the finest included, are then aggregated from
    those (``MERGE`` of merged rows, as :func:`compact` and the tiers filled at open do), so
    only one statement per kind reads every item instead of one per table."""
    if not _IDENTIFIER.fullmatch(batch):
        raise ValueError(f"batch must be a table or view name, got {batch!r}")
    finest = LOCAL_TIERS[0].width_ms
    rows = counter_rows(batch)
    con.execute("CREATE OR REPLACE TEMP TABLE _ww_counters AS "
                + _bucketed(rows, finest, KEY, MERGE, False))
    binned = _STAGE.format(rows=rows).split(" AS\n", 1)[1]  # the staged rows, not stored
    con.execute("CREATE OR REPLACE TEMP TABLE _ww_hist AS "
                + _bucketed(hist_rows(f"({binned})"), finest, HIST_KEY, HIST_MERGE, False))
    for tier in LOCAL_TIERS:
        counters = _bucketed("SELECT * FROM _ww_counters", tier.width_ms, KEY, MERGE, False)
        con.execute(f"INSERT INTO {tier.table} BY NAME {counters}")
        hist = _bucketed("SELECT * FROM _ww_hist", tier.width_ms, HIST_KEY, HIST_MERGE, False)
        con.execute(f"INSERT INTO {tier.hist} BY NAME {hist}")
        if tier.counters_any:
            any_rows = _bucketed(_COUNTER_TO_ANY.format(rows="SELECT * FROM _ww_counters"),
                                 tier.width_ms, ANY_KEY, MERGE, False)
            con.execute(f"INSERT INTO {tier.counters_any} BY NAME {any_rows}")
        if tier.hist_any:
            hist_any = _bucketed(_TO_ANY.format(rows="SELECT * FROM _ww_hist"), tier.width_ms,
                                 HIST_ANY_KEY, HIST_MERGE, False)
            con.execute(f"INSERT INTO {tier.hist_any} BY NAME {hist_any}")
    con.execute("DROP TABLE _ww_counters")
    con.execute("DROP TABLE _ww_hist")
    con.execute(_MARK)


def mark_complete(con: Connection) -> None:
    """Say the rollup holds every stored batch (after loading old rows that it already held)."""
    con.execute(_MARK)


def through_batch(con: Connection) -> int:
    """The highest batch the rollup holds; later batches are read from raw rows."""
    rows = con.execute("SELECT max(through_batch) FROM rollup_state").fetchall()
    return int(rows[0][0] or 0) if rows else 0


def _compact_table(con: Connection, table: str, key: str, merge: str, cutoff_ms: int) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ww_dirty AS "
        f"SELECT DISTINCT t FROM {table} WHERE NOT merged AND t < ?",
        [cutoff_ms],
    )
    (first,) = con.execute("SELECT min(t) FROM _ww_dirty").fetchone()
    if first is None:
        return
    dirty = "t >= ? AND t IN (SELECT t FROM _ww_dirty)"  # the bound lets zone maps skip
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ww_merged AS "
        f"SELECT t, {key}, true AS merged, {merge} FROM {table} WHERE {dirty} GROUP BY ALL",
        [first],
    )
    con.execute(f"DELETE FROM {table} WHERE {dirty}", [first])
    # in time order, so the zone maps on t let a window skip the row groups outside it
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _ww_merged ORDER BY t")


def compact(con: Connection, now_ms: int, *, settle_ms: int = SETTLE_MS) -> None:
    """Merge duplicate keys in every bucket that started more than ``settle_ms`` before now."""
    cutoff = now_ms - settle_ms
    con.execute("BEGIN TRANSACTION")
    try:
        for tier in LOCAL_TIERS:
            _compact_table(con, tier.table, KEY, MERGE, cutoff)
            _compact_table(con, tier.hist, HIST_KEY, HIST_MERGE, cutoff)
            if tier.hist_any:
                _compact_table(con, tier.hist_any, HIST_ANY_KEY, HIST_MERGE, cutoff)
            if tier.counters_any:
                _compact_table(con, tier.counters_any, ANY_KEY, MERGE, cutoff)
        con.execute("DROP TABLE IF EXISTS _ww_dirty")
        con.execute("DROP TABLE IF EXISTS _ww_merged")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def delete_before(con: Connection, cutoff_ms: int) -> None:
    """Delete rollup buckets that end at or before ``cutoff_ms`` (retention)."""
    for tier in LOCAL_TIERS:
        for table in (tier.table, tier.hist, tier.hist_any, tier.counters_any):
            if table is None:
                continue
            con.execute(f"DELETE FROM {table} WHERE t <= ?", [cutoff_ms - tier.width_ms])


def rebuild(con: Connection, now_ms: int) -> None:
    """Empty every rollup table and aggregate all raw items again, then compact."""
    con.execute("BEGIN TRANSACTION")
    try:
        for tier in LOCAL_TIERS:
            con.execute(f"DELETE FROM {tier.table}")
            con.execute(f"DELETE FROM {tier.hist}")
            for extra in (tier.hist_any, tier.counters_any):
                if extra:
                    con.execute(f"DELETE FROM {extra}")
        apply(con, "items")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    compact(con, now_ms)


@dataclass(frozen=True)
class Span:
    """Buckets of one tier whose start ``t`` satisfies ``start_ms <= t < end_ms``."""

    tier: Tier
    start_ms: int
    end_ms: int


def floor_to(ms: int, width_ms: int) -> int:
    """``ms`` rounded down to a multiple of ``width_ms``."""
    return ms - ms % width_ms


def _cover(lo: int, hi: int, tiers: tuple[Tier, ...]) -> list[Span]:
    """Spans covering ``[lo, hi)`` (multiples of the finest width), coarsest buckets first."""
    if lo >= hi:
        return []
    top = tiers[-1]
    if len(tiers) == 1:
        return [Span(top, lo, hi)]
    first, end = -floor_to(-lo, top.width_ms), floor_to(hi, top.width_ms)
    if end <= first:
        return _cover(lo, hi, tiers[:-1])
    return [*_cover(lo, first, tiers[:-1]), Span(top, first, end), *_cover(end, hi, tiers[:-1])]


def whole_buckets(from_ms: int, to_ms: int, hours: bool = True,
                  tiers: tuple[Tier, ...] = TIERS) -> tuple[Span, ...]:
    """The rollup buckets lying wholly inside ``[from_ms, to_ms]``, fewest first.

    Of ``tiers`` (finest first, each width a multiple of the one before), the coarsest
    buckets where they fit and finer ones around them (without ``hours``, only the finest
    tier). What the buckets leave out, ``[from_ms, first start)`` and ``[last end, to_ms]``, is
    less than one finest bucket (a minute) at each end and is read from raw rows. Empty when no
    whole minute fits.
    """
    finest = tiers[0].width_ms
    first = -floor_to(-from_ms, finest)  # ceiling
    end = floor_to(to_ms + 1, finest)  # the last whole minute ends here
    return tuple(_cover(first, end, tiers if hours else tiers[:1]))
