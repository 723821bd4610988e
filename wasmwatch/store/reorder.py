"""Keep each item table in time order, so a time-range scan skips the row groups outside it.

DuckDB keeps a min/max zone map of ``ts`` per row group (about 122k rows). Live traffic lands
in time order, so a short window touches a few row groups. An out-of-order load (an offline
replay, a history import) spreads every row group over the whole time range, and then every
raw read scans the whole table: a 5-minute window costs as much as 30 days.

:func:`reorder` measures that from the table's storage statistics: the sum of the row groups'
``ts`` spans against the table's whole span (about 1 in time order, the number of row groups
when shuffled). Above :data:`SPREAD_LIMIT` it rewrites the table sorted by ``ts`` in one
transaction (the rows, their columns and constraints unchanged), then checkpoints so the
emptied row groups are dropped. A table is rewritten at most once per ``min_interval_ms``
(default an hour, the time kept in ``reorder_state``): late items (an SDK's offline queue)
in every new row group would otherwise make it rewrite the same table again and again. A
rewrite that runs out of memory (a large query held the store's memory limit meanwhile) is
rolled back and tried again after :data:`OOM_RETRY_MS` instead of the hour, and the other tables
go on; any other failure (say, out of disk for the sort) waits the hour and is raised.

The store's maintenance runs it (every 30-60 s, on the writer thread): in time order it only
reads the statistics; after an out-of-order load it pays one sort of each table (DuckDB spills
it to disk beyond its memory limit; 13 s for the benchmark's shuffled 10 M items) and ingest
waits for it meanwhile.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import duckdb

from wasmwatch.store import layout

__all__ = ["OOM_RETRY_MS", "SPREAD_LIMIT", "reorder", "spread"]

log = logging.getLogger(__name__)

Connection = Any
#: rewrite a table when its row groups' ts spans add up to more than this many whole spans
SPREAD_LIMIT = 2.0
MIN_INTERVAL_MS = 3_600_000
OOM_RETRY_MS = 300_000  # a rewrite that ran out of memory is tried again this much later
MIN_ROW_GROUPS = 4  # fewer row groups than this: a scan reads them all anyway

_STATS = re.compile(r"\[Min: (-?\d+), Max: (-?\d+)\]")


def _bounds(stats: Any) -> tuple[int, int] | None:
    """``(min, max)`` of a segment's statistics (a struct in DuckDB 2, text before)."""
    if isinstance(stats, dict):
        lo, hi = stats.get("min"), stats.get("max")
        return None if lo is None or hi is None else (int(lo), int(hi))
    match = _STATS.search(str(stats))
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def _row_group_spans(con: Connection, table: str) -> list[tuple[int, int]]:
    rows = con.execute(
        "SELECT row_group_id, stats FROM pragma_storage_info(?) WHERE column_name = 'ts' "
        "AND segment_type = 'BIGINT'", [table]).fetchall()
    spans: dict[int, tuple[int, int]] = {}
    for group, stats in rows:
        bounds = _bounds(stats)
        if bounds is None:
            continue
        lo, hi = bounds
        old = spans.get(int(group))
        spans[int(group)] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    return list(spans.values())


def spread(con: Connection, table: str) -> float:
    """How many times the table's whole ``ts`` span its row groups' spans add up to (0 when
    it has fewer than :data:`MIN_ROW_GROUPS` row groups or one instant)."""
    spans = _row_group_spans(con, table)
    if len(spans) < MIN_ROW_GROUPS:
        return 0.0
    whole = max(hi for _, hi in spans) - min(lo for lo, _ in spans)
    return sum(hi - lo for lo, hi in spans) / whole if whole > 0 else 0.0


def _rewrite(con: Connection, table: str) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE TEMP TABLE _ww_sorted AS SELECT * FROM {table} ORDER BY ts")
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} SELECT * FROM _ww_sorted")
        con.execute("DROP TABLE _ww_sorted")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


_STATE = "CREATE TABLE IF NOT EXISTS reorder_state (name VARCHAR PRIMARY KEY, at_ms BIGINT NOT NULL)"


def reorder(con: Connection, now_ms: int, limit: float = SPREAD_LIMIT,
            min_interval_ms: int = MIN_INTERVAL_MS) -> list[str]:
    """Rewrite in ``ts`` order every item table whose :func:`spread` exceeds ``limit`` and
    that was not rewritten in the last ``min_interval_ms``; the tables rewritten. Run outside
    any transaction (it runs its own, one per table)."""
    con.execute(_STATE)
    last = dict(con.execute("SELECT name, at_ms FROM reorder_state").fetchall())
    done = []
    for type_ in layout.TYPES:
        table = layout.table_of(type_)
        if now_ms - int(last.get(table, now_ms - min_interval_ms)) < min_interval_ms:
            continue
        if spread(con, table) > limit:
            # noted first: a rewrite that fails (say, out of disk for the sort) waits too
            con.execute("INSERT OR REPLACE INTO reorder_state VALUES (?, ?)", [table, now_ms])
            try:
                _rewrite(con, table)
            except duckdb.OutOfMemoryException as exc:
                retry_at = now_ms - min_interval_ms + min(OOM_RETRY_MS, min_interval_ms)
                con.execute("INSERT OR REPLACE INTO reorder_state VALUES (?, ?)", [table, retry_at])
                log.warning("reorder of %s ran out of memory, tried again in %d s: %s",
                            table, min(OOM_RETRY_MS, min_interval_ms) // 1000, exc)
                continue
            done.append(table)
    if done:
        con.execute("CHECKPOINT")  # drop the emptied row groups, so their zone maps go too
    return done
