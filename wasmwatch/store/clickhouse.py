"""The scale-out store: items and rollups in ClickHouse, through clickhouse-connect.

One client API for both engines: a ClickHouse server over HTTP (``clickhouse://``) and the
same engine in process (``chdb://``, clickhouse-connect's chdb backend; tests run on it).

Tables (database from the URL, made on open):

* ``items``: the wide row of :class:`~wasmwatch.store.schema.Row`, denormalized (ClickHouse
  joins cost a hash table per query; a sparse Nullable column costs almost nothing), so the
  query layer's ``items`` is a table here, not DuckDB's view over per-type tables. Engine
  ``ReplacingMergeTree``, ``PARTITION BY`` day of ``ts``, ``ORDER BY (project, type, ts, id)``,
  ``TTL`` at the retention period (``ttl_only_drop_parts``: whole days go), context tags as
  ``LowCardinality``, and the time also as ``time DateTime64(3, 'UTC')`` (materialized).
* ``rollup_minute``, ``rollup_hour``, ``rollup_hist_minute``, ``rollup_hist_hour``: the same
  rollup tables and columns as on DuckDB (:mod:`wasmwatch.query.rollup`), filled by
  materialized views on ``items``: each insert block is aggregated once as it lands, so
  there is no pending table, nothing to recover after a crash, and every reader
  re-aggregates as on DuckDB.
* ``ww_meta`` (shared secrets: first writer wins), ``ww_projects``, ``ww_ingest_keys``
  (projects and keys, replaced by version), so every node sees the same keys.

Idempotency: a dedup window. Before each insert the writer looks the commit's ids up in
``items`` between its items' earliest and latest ``ts`` widened by ``dedup_window_ms`` (one
query per commit, reading only those days and ``ts`` ranges by the sort key); found ones are
duplicates. So a replay is caught on any node, and exactly, unless its ``ts`` moved by more
than the window (clock-skew correction) or two nodes commit the same id at the same moment.
For that race ``ReplacingMergeTree`` on the sort key collapses identical rows when parts
merge; reads do not use ``FINAL`` (it would merge at every read), so such a race counts twice
until the merge.

Local state: a DuckDB file ``wasmwatch-local.duckdb`` in the data dir holds what only the one
evaluator uses (alert history and silences, error states, symbols); reads of those tables go
there, reads of items and rollups go to ClickHouse (:class:`Reader`). Ingest nodes keep it in
memory: they need no local state.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from wasmwatch.errors import StoreError
from wasmwatch.query import rollup, sketch
from wasmwatch.store import chsql
from wasmwatch.store import projects as project_tables
from wasmwatch.store.base import Written
from wasmwatch.store.schema import COLUMNS
from wasmwatch.store.url import StoreURL

if TYPE_CHECKING:
    from wasmwatch.ingest.columnar import Prepared

__all__ = ["ClickHouseStore", "Reader"]

T = TypeVar("T")
log = logging.getLogger(__name__)
#: how far a replayed item's ``ts`` may have moved and still be found: a replay carries the
#: client's own timestamp, and skew correction moves it by the client clock's error, which two
#: sends of one item share; an hour covers a clock changed between them
DEDUP_WINDOW_MS = 3_600_000
LOCAL_FILE = "wasmwatch-local.duckdb"
_TAGS = ("release", "page", "connection", "device", "browser", "os", "sdk", "name", "category",
         "kind", "unit")
_NOT_NULL = ("id", "project", "type", "ts", "client_ts", "received")
_CH_TYPES = {"VARCHAR": "String", "BIGINT": "Int64", "DOUBLE": "Float64", "BOOLEAN": "Bool"}
#: tables that live in ClickHouse; SQL naming any of them is run there
CH_TABLES = ("items", *(t for tier in rollup.TIERS for t in (tier.table, tier.hist)))
_ON_CH = re.compile(r"\b(" + "|".join(CH_TABLES) + r")\b")
#: ``async_insert`` is the server's choice (chdb 26.9 has it on: faster in 3 of 4 runs, see
#: bench/RESULTS.md); ``wait_for_async_insert`` so that a 2xx still means stored
_SETTINGS = {"join_use_nulls": 1, "prefer_column_name_to_alias": 1, "max_query_size": 64 << 20,
             "wait_for_async_insert": 1}


def _column_type(name: str) -> str:
    base = _CH_TYPES[COLUMNS[name].split()[0]]
    if name in ("project", "type"):
        return f"LowCardinality({base})"
    if name in _NOT_NULL:
        return base
    if name in _TAGS:
        return f"LowCardinality(Nullable({base}))"
    return f"Nullable({base})"


def _ttl(column: str, days: int) -> str:
    return f" TTL toDateTime(intDiv({column}, 1000)) + INTERVAL {int(days)} DAY" if days else ""


def items_columns() -> str:
    """The column and index list of ``items`` (also the cluster's ``items_local``)."""
    cols = ",\n  ".join(f"{name} {_column_type(name)}" for name in COLUMNS)
    return (f"(\n  {cols},\n"
            "  time DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(ts, 'UTC'),\n"
            "  INDEX received_range received TYPE minmax GRANULARITY 1\n)")


def items_layout(days: int) -> str:
    """Everything after the engine name of ``items``: partitions, sort key, TTL."""
    return (" PARTITION BY toYYYYMMDD(fromUnixTimestamp64Milli(ts, 'UTC'))"
            f" ORDER BY (project, type, ts, id){_ttl('ts', days)} SETTINGS ttl_only_drop_parts = 1")


def items_ddl(days: int) -> str:
    return (f"CREATE TABLE IF NOT EXISTS items {items_columns()} ENGINE = ReplacingMergeTree"
            f"{items_layout(days)}")


def rollup_columns(columns: str) -> str:
    """A rollup table's DuckDB column list (:mod:`wasmwatch.query.rollup`) in ClickHouse types."""
    cols = []
    for spec in columns.split(","):
        name, sql_type, *rest = spec.split()
        base = _CH_TYPES.get(sql_type, "Int32" if sql_type == "INTEGER" else sql_type)
        if name in ("project", "type", "release", "browser", "name", "category"):
            base = f"LowCardinality({base})" if rest else f"LowCardinality(Nullable({base}))"
        cols.append(f"{name} {base if rest or base.startswith('Low') else f'Nullable({base})'}")
    return f"({', '.join(cols)})"


def rollup_layout(days: int) -> str:
    return (" PARTITION BY toYYYYMMDD(fromUnixTimestamp64Milli(t, 'UTC')) ORDER BY (project, type, t)"
            f"{_ttl('t', days)} SETTINGS ttl_only_drop_parts = 1")


def _rollup_ddl(table: str, columns: str, days: int) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {table} {rollup_columns(columns)} ENGINE = MergeTree"
            f"{rollup_layout(days)}")


def view_select(tier: rollup.Tier, hist: bool, source: str = "items") -> str:
    """The SELECT of the materialized view that fills one rollup table from ``source``."""
    rows = rollup.counter_rows(source)
    if hist:
        rows = (f"SELECT t, project, type, release, browser, CASE WHEN type = 'operation' THEN "
                f"name END AS name, {sketch.bin_sql('ms_sum')} AS bin, 1 AS n FROM ({rows}) "
                f"WHERE type IN {rollup.HIST_TYPES!r} AND ms_sum IS NOT NULL")
    key, merge = (rollup.HIST_KEY, rollup.HIST_MERGE) if hist else (rollup.KEY, rollup.MERGE)
    return chsql.translate(f"SELECT (t // {tier.width_ms}) * {tier.width_ms} AS t, {key}, "
                           f"false AS merged, {merge} FROM ({rows}) GROUP BY ALL")


def _view_ddl(tier: rollup.Tier, hist: bool) -> str:
    target = tier.hist if hist else tier.table
    return (f"CREATE MATERIALIZED VIEW IF NOT EXISTS {target}_mv TO {target} AS "
            f"{view_select(tier, hist)}")


#: the small shared tables: (name, columns, engine, engine argument, sort key)
SHARED = (
    ("ww_meta", "(key String, value String, at Int64)", "MergeTree", "", "key"),
    ("ww_projects", "(id String, name String, allowed_origins Array(String), created_at Int64, "
     "version Int64)", "ReplacingMergeTree", "version", "id"),
    ("ww_ingest_keys", "(key String, project String, label String, created_at Int64, "
     "revoked_at Nullable(Int64), version Int64)", "ReplacingMergeTree", "version", "key"),
)


def ddl(retention_days: int) -> list[str]:
    """Every ClickHouse table and view, in creation order."""
    out = [items_ddl(retention_days),
           *(f"CREATE TABLE IF NOT EXISTS {name} {cols} ENGINE = {engine}({version}) ORDER BY {key}"
             for name, cols, engine, version, key in SHARED)]
    for tier in rollup.TIERS:
        out.append(_rollup_ddl(tier.table, rollup._COUNTER_COLUMNS, retention_days))
        out.append(_rollup_ddl(tier.hist, rollup._HIST_COLUMNS, retention_days))
        out.append(_view_ddl(tier, hist=False))
        out.append(_view_ddl(tier, hist=True))
    return out


def connect(url: StoreURL, database: str | None = None) -> Any:
    """A clickhouse-connect client for ``url`` (chdb in process, or a server over HTTP)."""
    try:
        import clickhouse_connect
    except ImportError as exc:
        raise StoreError("the ClickHouse store needs the clickhouse extra: "
                         "pip install 'wasmwatch[clickhouse]'") from exc
    try:
        if url.kind == "chdb":
            assert url.path is not None
            url.path.mkdir(parents=True, exist_ok=True)
            return clickhouse_connect.get_client(dsn=f"chdb://{url.path}", database=database,
                                                 settings=_SETTINGS)
        return clickhouse_connect.get_client(
            host=url.host, port=url.port, username=url.user, password=url.password,
            database=database, secure=url.secure,
            settings={**_SETTINGS, "insert_distributed_sync": 1},  # a 2xx means on the shards
            compress=True, connect_timeout=10, send_receive_timeout=300)
    except Exception as exc:
        raise StoreError(f"cannot connect to {url.redacted()}: {exc}") from exc


class _Result:
    """What a DuckDB cursor's ``execute`` gives the query layer: rows and a description."""

    def __init__(self, names: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        self.description = [(n, None, None, None, None, None, None) for n in names]
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None


class Reader:
    """A cursor for the query layer: SQL over ClickHouse tables runs on ClickHouse (translated
    by :mod:`.chsql`), everything else on the local DuckDB."""

    #: ``items`` is one wide table and the rollups hold every row (see query/sources.py)
    wide_items = True

    def __init__(self, client: Any, local: duckdb.DuckDBPyConnection) -> None:
        self.client = client
        self.local = local

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if not _ON_CH.search(sql):
            return self.local.execute(sql, list(params))
        text = chsql.translate(sql, params)
        try:
            result = self.client.query(text)
        except Exception as exc:
            raise StoreError(f"ClickHouse query failed: {exc}") from exc
        rows = [tuple(chsql.clean(v) for v in row) for row in result.result_rows]
        return _Result(result.column_names, rows)

    def __getattr__(self, name: str) -> Any:  # register, sql, ... on the local DuckDB
        return getattr(self.local, name)


class ClickHouseStore:
    """The store seam (``write``, ``flush``) plus what the server reads, on ClickHouse."""

    upgraded = False

    def __init__(self, url: StoreURL, data_dir: Path, *, retention_days: int = 30,
                 local_state: bool = True, dedup_window_ms: int = DEDUP_WINDOW_MS) -> None:
        self.url = url
        self.dedup_window_ms = dedup_window_ms
        admin = connect(url)
        try:
            admin.command(f"CREATE DATABASE IF NOT EXISTS {url.database}")
        except Exception as exc:
            raise StoreError(f"cannot create database {url.database}: {exc}") from exc
        finally:
            with contextlib.suppress(Exception):
                admin.close()
        self._client = connect(url, url.database)
        try:
            for statement in ddl(retention_days):
                self._client.command(statement)
        except Exception as exc:
            self._client.close()
            raise StoreError(f"cannot make the ClickHouse tables: {exc}") from exc
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / LOCAL_FILE if local_state else None
        self._local = duckdb.connect(str(self.path) if self.path else ":memory:")
        project_tables.migrate(self._local)
        self._threads = threading.local()
        self._clients: list[Any] = [self._client]
        self._lock = threading.Lock()
        self._closed = False

    # -- writes (writer thread only) -------------------------------------------------------

    def write(self, prepared: Prepared, want_rows: bool = False,
              columns: tuple[str, ...] | None = None) -> Written:
        """Store the new items of ``prepared`` in one insert; say which were duplicates."""
        duplicate = np.zeros(prepared.size, dtype=np.bool_)
        if not prepared.size:
            return Written(duplicate, None)
        table, where = self._derived(prepared, duplicate)
        stored = self._stored(table)
        if stored:
            keys = list(zip(table.column("project").to_pylist(), table.column("id").to_pylist(),
                            strict=True))
            keep = np.array([k not in stored for k in keys], dtype=np.bool_)
            for key in stored:
                duplicate[where[key]] = True
            table = table.filter(pa.array(keep))
        if table.num_rows:
            try:
                self._client.insert_arrow("items", table)
            except Exception as exc:
                raise StoreError(f"insert into ClickHouse failed: {exc}") from exc
        rows = table.select(list(columns or table.column_names)) if want_rows else None
        return Written(duplicate, rows)

    def _derived(self, prepared: Prepared,
                 duplicate: np.ndarray) -> tuple[pa.Table, dict[tuple[str, str], int]]:
        """The wide rows of ``prepared`` (derived as for DuckDB), without repeats inside the
        group (marked in ``duplicate``); and each kept key's position."""
        where: dict[tuple[str, str], int] = {}
        for pos in range(prepared.size):
            key = prepared.key(pos)
            if key in where:
                duplicate[pos] = True
            else:
                where[key] = pos
        return prepared.rows(0, ~duplicate), where

    def _stored(self, table: pa.Table) -> set[tuple[str, str]]:
        """Which (project, id) of ``table`` are in ``items`` already (within the window)."""
        if not table.num_rows:
            return set()
        low, high = pc.min_max(table.column("ts")).values()
        window = self.dedup_window_ms
        wanted = set(table.column("id").to_pylist())
        if any("," in i for i in wanted):  # ingest's ids have none; keep the slow form for others
            ids = ", ".join(chsql.literal(i) for i in wanted)
        else:  # one string literal: a 10,000-literal IN list costs ClickHouse ~0.3 s to parse
            ids = f"SELECT arrayJoin(splitByChar(',', {chsql.literal(','.join(wanted))}))"
        projects = ", ".join(chsql.literal(p) for p in set(table.column("project").to_pylist()))
        sql = (f"SELECT DISTINCT project, id FROM items WHERE project IN ({projects}) "
               f"AND ts >= {int(low.as_py()) - window} AND ts <= {int(high.as_py()) + window} "
               f"AND id IN ({ids})")
        try:
            found = self._client.query(sql).result_rows
        except Exception as exc:
            raise StoreError(f"duplicate lookup in ClickHouse failed: {exc}") from exc
        return {(str(p), str(i)) for p, i in found}

    def flush(self, force: bool = False) -> int:
        """Nothing is deferred: the materialized views aggregate each insert as it lands."""
        return 0

    def recover(self, now_ms: int) -> bool:
        """Nothing to rebuild: rollups are written with their items, by ClickHouse."""
        return False

    def maintain(self, now_ms: int, retention_ms: int) -> int:
        """Delete items (and rollup buckets) older than the retention period now, as the TTL
        would at its next merge; returns the items deleted. On a cluster the TTL alone does it."""
        cutoff = now_ms - retention_ms
        if self._distributed():
            return 0  # a cluster's shards drop old days by their TTL; DELETE is not distributed
        try:
            ((old,),) = self._client.query(f"SELECT count() FROM items WHERE ts < {cutoff}").result_rows
            if old:
                self._client.command(f"DELETE FROM items WHERE ts < {cutoff}")
            for tier in rollup.TIERS:
                for name in (tier.table, tier.hist):
                    self._client.command(f"DELETE FROM {name} WHERE t <= {cutoff - tier.width_ms}")
        except Exception as exc:
            raise StoreError(f"maintenance failed: {exc}") from exc
        return int(old)

    def arrived(self, since_ms: int) -> pa.Table:
        """Items whose ``received`` is ``since_ms`` or later, from any node (the evaluator's
        feed; the minmax index on ``received`` skips older parts)."""
        client = self.reader().client
        try:
            return client.query_arrow(f"SELECT * FROM items WHERE received >= {int(since_ms)}")
        except Exception as exc:
            raise StoreError(f"reading new items failed: {exc}") from exc

    def _distributed(self) -> bool:
        """``items`` is a cluster's ``Distributed`` table (see :mod:`.cluster`)."""
        rows = self._client.query("SELECT engine FROM system.tables WHERE database = "
                                  "currentDatabase() AND name = 'items'").result_rows
        return bool(rows) and rows[0][0] == "Distributed"

    def stored_count(self) -> int:
        return int(self._client.query("SELECT count() FROM items").result_rows[0][0])

    # -- reads (any thread, own client) -----------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def reader(self) -> Reader:
        reader: Reader | None = getattr(self._threads, "reader", None)
        if reader is None:
            client = connect(self.url, self.url.database)
            with self._lock:
                self._clients.append(client)
            reader = Reader(client, self._local.cursor())
            self._threads.reader = reader
        return reader

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.reader().execute(sql, params)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # -- projects, keys and secrets: shared through ClickHouse --------------------------------

    def catalog(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``fn`` (see :mod:`wasmwatch.store.projects`) on the current projects and keys
        (read from ClickHouse into the local DuckDB), then publish any change to ClickHouse.
        Call it on the writer thread, as on DuckDB."""
        con = self._local
        self._pull(con)
        before = project_tables.snapshot(con)
        result = fn(con)
        after = project_tables.snapshot(con)
        if after != before:
            self._publish(after)
        return result

    def snapshot(self) -> tuple[list[project_tables.Project], list[project_tables.IngestKey]]:
        """Projects and keys as every node sees them (an ingest node reloads this)."""
        con = duckdb.connect(":memory:")
        try:
            project_tables.migrate(con)
            self._pull(con)
            return project_tables.snapshot(con)
        finally:
            con.close()

    def _pull(self, con: duckdb.DuckDBPyConnection) -> None:
        projects = self._client.query_arrow(
            "SELECT id, name, allowed_origins, created_at FROM ww_projects FINAL")
        keys = self._client.query_arrow(
            "SELECT key, project, label, created_at, revoked_at FROM ww_ingest_keys FINAL")
        con.execute("DELETE FROM ingest_keys")
        con.execute("DELETE FROM projects")
        con.register("_ww_p", projects)
        con.register("_ww_k", keys)
        con.execute("INSERT INTO projects SELECT * FROM _ww_p")
        con.execute("INSERT INTO ingest_keys SELECT * FROM _ww_k")
        con.unregister("_ww_p")
        con.unregister("_ww_k")

    def _publish(self, state: tuple[list[project_tables.Project],
                                    list[project_tables.IngestKey]]) -> None:
        projects, keys = state
        version = time.time_ns()
        self._client.insert("ww_projects", [[*p[:4], version] for p in projects],
                            column_names=["id", "name", "allowed_origins", "created_at", "version"])
        self._client.insert("ww_ingest_keys", [[*k[:5], version] for k in keys],
                            column_names=["key", "project", "label", "created_at", "revoked_at",
                                          "version"])

    def secret(self, name: str, given: str | None, prefix: str) -> str:
        """A secret given in settings, else the one the first node stored (every node agrees)."""
        if given:
            return given
        sql = f"SELECT argMin(value, at), count() FROM ww_meta WHERE key = {chsql.literal(name)}"
        value, count = self._client.query(sql).result_rows[0]
        if count:
            return str(value)
        self._client.insert("ww_meta", [[name, prefix + secrets.token_urlsafe(24), time.time_ns()]],
                            column_names=["key", "value", "at"])
        return str(self._client.query(sql).result_rows[0][0])

    def close(self) -> list[str]:
        if self._closed:
            return []
        self._closed = True
        problems: list[str] = []
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        try:
            if self.path is not None:
                self._local.execute("CHECKPOINT")
        except duckdb.Error as exc:
            problems.append(f"checkpoint of the local store failed: {exc}")
        self._local.close()
        return problems
