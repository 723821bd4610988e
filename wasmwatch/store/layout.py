"""The stored layout (version 3): batch context once per batch, each item type in its own table.

``batches`` holds one row per ingested batch: project, server receive time, the client clock
skew the server corrected, and the batch context (session, release, page, connection,
device, browser, browser major, OS, online, SDK version). Each item type has a narrow table
``item_<type>`` with ``batch``, ``id``, ``ts`` and only the columns that type uses (see
:data:`TYPE_COLUMNS`), so an append touches a few columns and a scan of one type reads only its
own rows. Per-type tables were chosen over a narrow common table plus per-type detail because
the rollups and summaries read type-specific columns (``cached``, ``category``,
``transfer_bytes``, ``synced``, ``pending``) and would then join detail rows on every raw scan.

Version 3 also copies a few batch context columns onto each item row (:data:`CARRIED`:
``project``, ``release`` and ``browser`` everywhere, ``page`` on engagement, ``session`` and
``os`` on errors), the ones the queries' raw reads filter, group and count by, so those reads
need no join with ``batches``: after an out-of-order load a batch's items span the whole
retention period, and any time range would touch every batch context. They are cheap to store
(one value per batch, repeated: DuckDB's dictionary compression keeps a run of them small).
A version-2 data dir gets the columns added last and filled from ``batches`` at open
(:func:`fill_carried`).

The view ``items`` joins everything back into the wide row of :class:`~wasmwatch.store.schema.
Row` (``client_ts`` is ``ts`` minus the batch's skew), so readers that want the whole item
keep one shape. Version 1 (one wide ``items`` table) is upgraded in place by :func:`upgrade`.

Within versions 2 and 3, changes are additive and applied on open by :func:`tables`: a new item type
is a new table, a new column of an existing table is added last (:data:`ADDED_COLUMNS`), so
appends by position keep working on data dirs made before it. ``service`` and ``session``
are both batch context columns (the batch's default) and columns of server item tables (per
item: a server batch carries requests of many browser sessions); the view shows the item's
value, else the batch's.
"""

from __future__ import annotations

from typing import Any

from wasmwatch.store.schema import COLUMNS

__all__ = [
    "CARRIED",
    "CONTEXT_COLUMNS",
    "LAYOUT_VERSION",
    "TYPES",
    "TYPE_COLUMNS",
    "batch_context",
    "batch_range",
    "batch_ranges",
    "fill_carried",
    "id_union",
    "insert_items",
    "load_wide",
    "table_of",
    "tables",
    "upgrade",
    "view",
    "wide_between",
    "wide_ranges",
    "wide_select",
]

LAYOUT_VERSION = 3
Connection = Any

#: columns of ``batches`` besides ``batch`` (``skew`` is ts - client_ts of its items)
CONTEXT_COLUMNS: dict[str, str] = {
    "project": "VARCHAR NOT NULL", "received": "BIGINT NOT NULL", "skew": "BIGINT NOT NULL",
    "session": "VARCHAR", "release": "VARCHAR", "page": "VARCHAR", "connection": "VARCHAR",
    "device": "VARCHAR", "browser": "VARCHAR", "browser_major": "BIGINT", "os": "VARCHAR",
    "online": "BOOLEAN", "sdk": "VARCHAR", "service": "VARCHAR",
}


def batch_context(project: str, received: int, **values: Any) -> tuple[Any, ...]:
    """A batch context in :data:`CONTEXT_COLUMNS` order (what a ``Chunk`` carries), for tests
    and benchmarks: ``skew`` 0 and every other column None unless given by name."""
    unknown = set(values) - set(CONTEXT_COLUMNS)
    if unknown:
        raise ValueError(f"not batch context columns: {', '.join(sorted(unknown))}")
    given = {"project": project, "received": received, "skew": 0, **values}
    return tuple(given.get(name) for name in CONTEXT_COLUMNS)


#: per type, the item columns its table keeps (besides ``batch``, ``id`` and ``ts``)
TYPE_COLUMNS: dict[str, tuple[str, ...]] = {
    "bundle_load": ("name", "ms", "cached", "streaming", "fetch_ms", "compile_ms",
                    "instantiate_ms", "transfer_bytes", "decoded_bytes"),
    "runtime_init": ("ms",),
    "operation": ("name", "ms", "ok", "offline", "expected_ms", "trace_id"),
    "error": ("name", "category", "kind", "message", "stack", "frame", "fingerprint", "value"),
    "memory": ("value", "js_heap_bytes", "grow_count", "gc_count", "gc_ms"),
    "engagement": ("name", "ms", "offline"),
    "feature": ("name",),
    "offline_sync": ("ms", "ok", "synced", "conflicts", "pending"),
    "measurement": ("name", "value", "unit", "tags"),
    "server_request": ("name", "method", "status", "ms", "ok", "trace_id", "span_id",
                       "parent_span_id", "service", "session"),
    "server_span": ("name", "kind", "ms", "ok", "trace_id", "span_id", "parent_span_id",
                    "service", "statement", "tags"),
    "server_process": ("service", "rss_bytes", "cpu_s", "threads", "gc_count", "gc_ms"),
}
#: columns added to a table after data dirs of this layout version existed (each one last)
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {"batches": ("service",),
                                             "item_operation": ("trace_id",)}
TYPES = tuple(TYPE_COLUMNS)
#: per type, the batch context columns each of its rows carries (version 3; added last)
CARRIED: dict[str, tuple[str, ...]] = {
    t: ("project", "release", "browser",
        *{"engagement": ("page",), "error": ("session", "os")}.get(t, ()))
    for t in TYPES}
_ITEM_KEYS = ("id", "project", "type", "ts", "client_ts", "received")
#: columns both of a batch (its default) and of an item (its own value, shown first)
_SHARED = ("service", "session")
#: the per-item columns of the wide row (not context, not the keys above)
ITEM_FIELDS = tuple(c for c in COLUMNS
                    if c not in _ITEM_KEYS and (c not in CONTEXT_COLUMNS or c in _SHARED))


def table_of(type_: str) -> str:
    return f"item_{type_}"


def _carried_type(column: str) -> str:
    return CONTEXT_COLUMNS[column].split()[0]  # nullable: added to tables that have rows


def _type_ddl(type_: str) -> str:
    cols = ", ".join([*(f"{c} {COLUMNS[c]}" for c in TYPE_COLUMNS[type_]),
                      *(f"{c} {_carried_type(c)}" for c in CARRIED[type_])])
    return (f"CREATE TABLE IF NOT EXISTS {table_of(type_)} "
            f"(batch BIGINT NOT NULL, id VARCHAR NOT NULL, ts BIGINT NOT NULL, {cols})")


def stored_columns(type_: str) -> tuple[str, ...]:
    """The columns of ``type_``'s table, in order."""
    return ("batch", "id", "ts", *TYPE_COLUMNS[type_], *CARRIED[type_])


def _branch_of(type_: str, columns: tuple[str, ...], where: str) -> str:
    own = set(TYPE_COLUMNS[type_])
    cols = ", ".join(c if c in own else f"CAST(NULL AS {COLUMNS[c]}) AS {c}" for c in columns)
    cond = f" WHERE {where}" if where else ""
    return f"SELECT batch, id, '{type_}' AS type, ts, {cols} FROM {table_of(type_)}{cond}"


def _carried_branch(type_: str, columns: tuple[str, ...], where: str) -> str:
    """One type's rows with ``columns`` of the wide row, context ones from its carried copy
    (NULL where the type carries none)."""
    own = {*TYPE_COLUMNS[type_], *CARRIED[type_], "batch", "id", "ts"}
    cols = ", ".join("'" + type_ + "' AS type" if c == "type" else c if c in own
                     else f"CAST(NULL AS {COLUMNS[c]}) AS {c}" for c in columns)
    cond = f" WHERE {where}" if where else ""
    return f"SELECT {cols} FROM {table_of(type_)}{cond}"


def carries(columns: tuple[str, ...], types: tuple[str, ...],
            sparse: tuple[str, ...] = ()) -> bool:
    """Every one of ``types`` has ``columns`` on its own rows (no join with ``batches``
    needed); a column in ``sparse`` is read only where carried (NULL elsewhere is fine)."""
    for c in columns:
        if c in ("client_ts", "received", "skew"):
            return False
        if c in CONTEXT_COLUMNS and c not in sparse and not all(
                c in CARRIED[t] or c in TYPE_COLUMNS[t] for t in types):
            return False
    return True


def carried_ranges(ranges: list[tuple[int, int]], columns: tuple[str, ...],
                   types: tuple[str, ...] = TYPES, min_batch: int | None = None) -> str:
    """Items in any of ``ranges`` (inclusive ``ts``), ``columns`` of the wide row, read from
    the item tables alone (check :func:`carries` first); from ``min_batch`` on when given."""
    conds = [f"({_any_range('ts', ranges)})"] if ranges else []
    if min_batch is not None:
        conds.append(f"batch >= {int(min_batch)}")
    where = " AND ".join(conds)
    return "\n  UNION ALL ".join(_carried_branch(t, columns, where) for t in types)


def wide_select(min_batch: int | None = None, columns: tuple[str, ...] | None = None,
                types: tuple[str, ...] = TYPES, max_batch: str | None = None) -> str:
    """Stored items in the wide row shape (``columns`` of it, default all) with their batch
    context; only batches from ``min_batch`` on when given (zone maps skip older rows), and
    up to ``max_batch`` (a SQL expression) when given."""
    where = "" if min_batch is None else f"batch >= {int(min_batch)}"
    wanted = tuple(COLUMNS) if columns is None else columns
    cond = f" AND b.{where}" if where else ""
    if max_batch is not None:
        cond += f" AND b.batch <= {max_batch}"
    return (f"SELECT {_wide_columns(wanted)}\nFROM ({_union(wanted, where, types)}) e "
            f"JOIN batches b ON e.batch = b.batch{cond}")


def wide_between(from_ms: int, to_ms: int, columns: tuple[str, ...] | None = None,
                 batches: tuple[int, int] | None = None,
                 types: tuple[str, ...] = TYPES) -> str:
    """Stored items with ``from_ms <= ts <= to_ms`` in the wide row shape (``columns`` of it,
    default all).

    ``batches`` (the lowest and highest batch of those items, see :func:`batch_range`) narrows
    the join to that run of ``batches``: zone maps then skip the other batch contexts, so a short
    range does not hash every stored one. ``types`` narrows it to those item types' tables (a
    shorter statement: DuckDB binds and plans each branch of the union anew).
    """
    return wide_ranges([(from_ms, to_ms)], columns, None if batches is None else [batches],
                       types)


def _any_range(column: str, ranges: list[tuple[int, int]]) -> str:
    return " OR ".join(f"({column} >= {int(lo)} AND {column} <= {int(hi)})" for lo, hi in ranges)


def wide_ranges(ranges: list[tuple[int, int]], columns: tuple[str, ...] | None = None,
                batches: list[tuple[int, int]] | None = None,
                types: tuple[str, ...] = TYPES) -> str:
    """:func:`wide_between` for items in any of several ``ts`` ranges (inclusive), in one
    scan per table (DuckDB prunes row groups by an OR of ranges of one column too);
    ``batches``: the batch run of each range (:func:`batch_ranges`)."""
    wanted = tuple(COLUMNS) if columns is None else columns
    context = "batches"
    if batches is not None:
        context = f"(SELECT * FROM batches WHERE {_any_range('batch', batches)})"
    return (f"SELECT {_wide_columns(wanted)}\nFROM ({_union(wanted, _any_range('ts', ranges), types)}) e "
            f"JOIN {context} b ON e.batch = b.batch")


def batch_range(con: Connection, from_ms: int, to_ms: int,
                types: tuple[str, ...] = TYPES) -> tuple[int, int]:
    """The lowest and highest batch holding an item with ``from_ms <= ts <= to_ms``
    (``(1, 0)``, an empty range, when none does)."""
    return batch_ranges(con, [(from_ms, to_ms)], types)[0]


def batch_ranges(con: Connection, ranges: list[tuple[int, int]],
                 types: tuple[str, ...] = TYPES) -> list[tuple[int, int]]:
    """:func:`batch_range` of each of ``ranges``, in one statement."""
    aggs = ", ".join(f"min(batch) FILTER (WHERE ts >= {int(lo)} AND ts <= {int(hi)}) AS lo{i}, "
                     f"max(batch) FILTER (WHERE ts >= {int(lo)} AND ts <= {int(hi)}) AS hi{i}"
                     for i, (lo, hi) in enumerate(ranges))
    parts = " UNION ALL ".join(f"SELECT {aggs} FROM {table_of(t)} WHERE {_any_range('ts', ranges)}"
                               for t in types)
    outer = ", ".join(f"min(lo{i}), max(hi{i})" for i in range(len(ranges)))
    (row,) = con.execute(f"SELECT {outer} FROM ({parts})").fetchall()
    return [(1, 0) if row[2 * i] is None else (int(row[2 * i]), int(row[2 * i + 1]))
            for i in range(len(ranges))]


def _union(wanted: tuple[str, ...], where: str, types: tuple[str, ...] = TYPES) -> str:
    fields = tuple(c for c in ITEM_FIELDS if c in wanted)
    return "\n  UNION ALL ".join(_branch_of(t, fields, where) for t in types)


def _wide_columns(wanted: tuple[str, ...]) -> str:
    wide = []
    for c in wanted:
        if c == "client_ts":
            wide.append("e.ts - b.skew AS client_ts")
        elif c in _SHARED:
            wide.append(f"coalesce(e.{c}, b.{c}) AS {c}")
        elif c in CONTEXT_COLUMNS:
            wide.append(f"b.{c}")
        else:
            wide.append(f"e.{c}")
    return ", ".join(wide)


def _view() -> str:
    return f"CREATE OR REPLACE VIEW items AS {wide_select()}"


def tables() -> list[str]:
    """Every table of layout version 3 (create them, then :func:`upgrade`, then :func:`view`;
    a version-2 item table gets its carried columns in :func:`fill_carried`)."""
    ctx = ", ".join(f"{c} {t}" for c, t in CONTEXT_COLUMNS.items())
    added = [f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {c} {COLUMNS[c]}"
             for table, cols in ADDED_COLUMNS.items() for c in cols]
    return [f"CREATE TABLE IF NOT EXISTS batches (batch BIGINT NOT NULL, {ctx})",
            *(_type_ddl(t) for t in TYPES), *added]


def view() -> str:
    """The ``items`` view: every stored item in the wide row shape."""
    return _view()


def id_union(where: str = "") -> str:
    """``(batch, id)`` of every stored item, optionally narrowed by ``where`` on each table."""
    cond = f" WHERE {where}" if where else ""
    return " UNION ALL ".join(f"SELECT batch, id FROM {table_of(t)}{cond}" for t in TYPES)


def insert_items(con: Connection, source: str, types: list[str] | tuple[str, ...] = TYPES) -> None:
    """Append the wide rows of ``source`` (with a ``batch`` column and the context) to their
    type tables."""
    for type_ in types:
        cols = ", ".join(stored_columns(type_))
        con.execute(f"INSERT INTO {table_of(type_)} SELECT {cols} FROM {source} "
                    f"WHERE type = '{type_}'")


def _is_v1(con: Connection) -> bool:
    row = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'items' "
        "AND table_schema = current_schema()").fetchall()
    return bool(row) and row[0][0] == "BASE TABLE"


def load_wide(con: Connection, source: str) -> None:
    """Append the wide rows of ``source`` (``Row`` columns), one batch per distinct context.

    For the upgrade and for loading history or test data; ingest appends through the writer.
    Columns ``source`` lacks (it is older than this layout) are NULL.
    """
    ctx = [c for c in CONTEXT_COLUMNS if c != "skew"]
    ((base,),) = con.execute("SELECT coalesce(max(batch), 0) FROM batches").fetchall()
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ww_src AS SELECT * FROM {source}")
    have = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = '_ww_src'").fetchall()}
    for c in (c for c in COLUMNS if c not in have):
        con.execute(f"ALTER TABLE _ww_src ADD COLUMN {c} {COLUMNS[c]}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _ww_load AS SELECT *, ts - client_ts AS skew, {int(base)} + "
        f"dense_rank() OVER (ORDER BY {', '.join(ctx)}, ts - client_ts) AS batch FROM _ww_src")
    cols = ", ".join(CONTEXT_COLUMNS)
    con.execute(f"INSERT INTO batches SELECT DISTINCT batch, {cols} FROM _ww_load")
    insert_items(con, "_ww_load")
    con.execute("DROP TABLE _ww_load")
    con.execute("DROP TABLE _ww_src")


#: rows per ``UPDATE`` of :func:`fill_carried` (each then checkpointed: DuckDB holds updated
#: rows in memory until a checkpoint, and 3.5 M at once exceed a 160 MB memory limit)
FILL_ROWS = 1_000_000


def fill_carried(con: Connection) -> int:
    """Copy the batch context onto item rows that lack it (a version-2 data dir: the columns
    are added last here, NULL), in slices of about :data:`FILL_ROWS` rows by batch, each
    checkpointed; rows already filled are left alone, so an interrupted fill goes on at the
    next open. Returns the rows filled."""
    have = set(con.execute("SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE table_schema = current_schema()").fetchall())
    for t in TYPES:  # a version-2 table: the columns added last (one statement per missing one)
        for c in CARRIED[t]:
            if (table_of(t), c) not in have:
                con.execute(f"ALTER TABLE {table_of(t)} ADD COLUMN {c} {_carried_type(c)}")
    todo = con.execute(" UNION ALL ".join(
        f"SELECT '{t}', min(batch), max(batch), count(*) FROM {table_of(t)} WHERE project IS NULL"
        for t in TYPES)).fetchall()
    filled = 0
    for t, lo, hi, n in todo:
        if not n:
            continue
        table = table_of(t)
        step = -(-(int(hi) - int(lo) + 1) // -(-int(n) // FILL_ROWS))
        sets = ", ".join(f"{c} = b.{c}" for c in CARRIED[t])
        for start in range(int(lo), int(hi) + 1, step):
            (done,) = con.execute(
                f"UPDATE {table} SET {sets} FROM batches b WHERE {table}.batch = b.batch "
                f"AND {table}.batch >= ? AND {table}.batch < ? AND {table}.project IS NULL",
                [start, start + step]).fetchone()
            con.execute("CHECKPOINT")
            filled += int(done)
    return filled


def upgrade(con: Connection) -> bool:
    """Move a version-1 wide ``items`` table into this layout, in one transaction; or fill
    the carried context of a version-2 one (:func:`fill_carried`).

    Each distinct (project, received, skew, context) of the old rows becomes one batch. Returns
    True if there was something to upgrade.
    """
    if not _is_v1(con):
        return fill_carried(con) > 0
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE TEMP TABLE _ww_v1 AS SELECT * FROM items")
        con.execute("DROP TABLE items")
        load_wide(con, "_ww_v1")
        con.execute("DROP TABLE _ww_v1")
        con.execute(_view())
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return True

