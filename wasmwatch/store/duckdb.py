"""The embedded store: one DuckDB file in the data dir, in the layout of :mod:`.layout`.

Writes come from one writer thread (``write``, ``flush`` and ``maintain``), and the rollup
aggregation from a second one (below). A group commit
arrives as Arrow tables (:class:`~wasmwatch.ingest.columnar.Prepared`); the duplicates are
found (below), then one transaction appends the batch contexts and each item type's rows
(derived already, in Arrow: one ``INSERT ... SELECT`` per type present), columnar, never row by
row. Each statement costs this DuckDB about 0.5-1 ms whatever its size, so a commit has as few
as that allows.
No item data passes through a file: a crash leaves nothing behind but DuckDB's own WAL.

Idempotency is exact per project and item id, whatever the item's ``ts``: a blocked Bloom
filter (:mod:`.seen`, fixed memory) says which keys are surely new; every "maybe" is looked up
in the key index (:class:`~.seen.KeyIndex`: sorted runs of key hashes on disk, the newest in
memory), and every hit there is confirmed in the item tables, reading only the batches the
index named. The filter is refilled from the index when the store opens (the index's
in-memory part is recomputed from the newest batches, so both survive restarts and kill -9)
and after retention has deleted many keys.

Readers take their own cursor (``reader()``), one per thread.

Aggregates (the query rollups) are kept off the commit path: committed rows are also kept in
memory (Arrow tables, read by the hooks as one view per flush, not copied), and the ``after_insert`` hooks
aggregate them at most every ``flush_interval_s`` when the writer idles, or once
``flush_rows`` rows wait, in their own transaction, so their fixed cost (about 130-190 ms here,
a statement per rollup table) is paid once per second instead of once per commit. Once
``flush_rows`` wait, that transaction runs on its own thread and cursor (``wasmwatch-rollup``)
while the writer goes on committing: DuckDB does the work with the GIL released, on the other
core. The rollup's watermark is then the newest batch of the rows aggregated (the hooks read
it as ``getvariable('ww_through')``), not the newest batch stored; the writer waits for a
running aggregation only when ``2 * flush_rows`` rows are staged (so they stay bounded), and
before ``flush`` and ``maintain`` (the rollup tables change only on one thread). A crash
loses only those pending rows; the next open sees the unclean flag in ``meta`` and runs the
``recover`` hooks (a rebuild from raw items), so aggregates stay exact.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa

from wasmwatch.errors import StoreError
from wasmwatch.store import layout
from wasmwatch.store import projects as project_tables
from wasmwatch.store.base import Written
from wasmwatch.store.projects import Project
from wasmwatch.store.schema import COLUMNS
from wasmwatch.store.seen import KeyIndex, SeenFilter

if TYPE_CHECKING:
    from wasmwatch.ingest.columnar import Prepared

__all__ = ["DuckDBStore", "Project"]
T = TypeVar("T")

log = logging.getLogger(__name__)
AfterInsert = Callable[[duckdb.DuckDBPyConnection, str], None]
Maintenance = Callable[[duckdb.DuckDBPyConnection, int, int], None]  # (con, now, cutoff)
Recover = Callable[[duckdb.DuckDBPyConnection, int], None]  # (con, now)
_PENDING = "_ww_pending"
_CLEAN = "aggregates_clean"
_VERSION = "schema_version"

_META_DDL = ("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",)
#: the dedup lookup names at most this many batches in an ``IN`` list (zone maps skip the rest)
_MAX_BATCHES_LISTED = 4096


def _append(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    """``INSERT`` the Arrow table ``rows`` (columns in the table's order) into ``table``."""
    _ww_rows = rows  # DuckDB reads the local variable by its name
    con.execute(f"INSERT INTO {table} SELECT * FROM _ww_rows")


class DuckDBStore:
    def __init__(
        self,
        data_dir: Path,
        *,
        ddl: Sequence[str] = (),
        after_insert: Sequence[AfterInsert] = (),
        maintenance: Sequence[Maintenance] = (),
        recover: Sequence[Recover] = (),
        aggregate_columns: Sequence[str] | None = None,
        flush_interval_s: float = 1.0,
        flush_rows: int = 65_536,
        memory_limit_mb: int = 0,
        seen_filter_bytes: int = 32 << 20,
        index_run_keys: int = 1 << 20,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "wasmwatch.duckdb"
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        # a checkpoint inside a commit stalls every waiting request: make them rare and large
        self._con.execute("SET checkpoint_threshold = '256MB'")
        if memory_limit_mb:
            self._con.execute(f"SET memory_limit = '{int(memory_limit_mb)}MB'")
        for statement in (*layout.tables(), *_META_DDL, *ddl):
            self._con.execute(statement)
        if project_tables.migrate(self._con):
            log.warning("projects and keys moved to the 0.2 layout (tables projects, ingest_keys)")
        self.upgraded = layout.upgrade(self._con)
        self._con.execute(layout.view())
        self._con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                          [_VERSION, str(layout.LAYOUT_VERSION)])
        self._after_insert = tuple(after_insert)
        self._maintenance = tuple(maintenance)
        self._recover = tuple(recover)
        self.flush_interval_s = flush_interval_s
        self.flush_rows = flush_rows
        self._pending = 0
        self._lossy = False  # aggregates missed rows: leave the unclean flag for the next open
        self._flushed_at = time.monotonic()
        # only what the aggregates read is staged (not messages and stacks)
        self._staged_columns = tuple(aggregate_columns or COLUMNS)
        self._staged_tables: list[pa.Table] = []
        self._staged_through = 0
        self._stage_lock = threading.Lock()
        # the aggregates are made on their own thread and cursor (see _aggregate)
        self._agg = self._con.cursor()
        self._flusher = ThreadPoolExecutor(1, thread_name_prefix="wasmwatch-rollup")
        self._flushing: Future[int] | None = None
        ((last,),) = self._con.execute("SELECT coalesce(max(batch), 0) FROM batches").fetchall()
        self.seen = SeenFilter(seen_filter_bytes)
        self.index = KeyIndex(index_run_keys)
        self.index.open(self._con, self.seen, int(last), self._item_keys, self.stored_count())
        self._deleted_since_refill = 0
        # never reuse a batch number the index has on disk (retention may delete the newest)
        self._next_batch = max(int(last), self.index.through) + 1
        self._local = threading.local()
        self._closed = False

    # -- writes (writer thread only) -------------------------------------------------------

    def _item_keys(self, lo: int, hi: int) -> pa.Table:
        """``(batch, project, id)`` of the stored items with ``lo < batch <= hi``."""
        where = f"batch > {int(lo)} AND batch <= {int(hi)}"
        return self._con.sql(
            f"SELECT u.batch, b.project, u.id FROM ({layout.id_union(where)}) u "
            f"JOIN (SELECT batch, project FROM batches WHERE {where}) b ON u.batch = b.batch"
        ).to_arrow_table()

    def write(self, prepared: Prepared, want_rows: bool = False,
              columns: tuple[str, ...] | None = None) -> Written:
        """Store the new items of ``prepared`` in one transaction; say which were duplicates.

        Statements per commit: one ``INSERT`` of the batch contexts and one per item type
        present, each reading its Arrow table directly, between ``BEGIN`` and ``COMMIT``;
        a lookup only when the filter says "maybe" for some key. The rows for the hooks and
        the rollups come from the same Arrow tables, not from the store."""
        if not prepared.size:
            return Written(np.zeros(0, dtype=np.bool_), None)
        con, base = self._con, self._next_batch
        keys = prepared.keys
        try:
            duplicate = self._duplicates(prepared, keys)
            keep = ~duplicate
            con.execute("BEGIN TRANSACTION")
            _append(con, "batches", prepared.context_table(base))
            for type_, table in prepared.tables(base, keep).items():
                _append(con, layout.table_of(type_), table)
            con.execute("COMMIT")
        except duckdb.Error as exc:
            self._rollback()
            raise StoreError(f"write failed: {exc}") from exc
        self._next_batch += len(prepared.chunks)
        self._remember(keys[keep], base + prepared.batch[keep])
        wanted = tuple(dict.fromkeys(((*(columns or COLUMNS),) if want_rows else ())
                                     + (self._staged_columns if self._after_insert else ())))
        wide = prepared.rows(base, keep, wanted) if wanted else None
        if self._after_insert and wide is not None:
            self._stage(wide, base + len(prepared.chunks) - 1)
        rows = None
        if want_rows and wide is not None:
            rows = wide.select(list(columns)) if columns else wide
        return Written(duplicate, rows)

    def _remember(self, keys: np.ndarray, batches: np.ndarray) -> None:
        """Committed keys into the filter and the index (a full index part becomes a run)."""
        self.seen.add(keys)
        self.index.add(keys, batches)
        if self.index.due():
            try:
                self.index.write_run(self._con, self._next_batch - 1)
            except duckdb.Error:  # the keys stay in memory; the next commit tries again
                log.exception("writing a run of the key index failed")

    def _duplicates(self, prepared: Prepared, keys: np.ndarray) -> np.ndarray:
        """Per item: already stored, or an earlier item of this group has its project and id."""
        duplicate = np.ones(len(keys), dtype=np.bool_)
        _, first = np.unique(keys, return_index=True)
        duplicate[first] = False
        for pos in np.flatnonzero(duplicate):  # same key as an earlier item: compare for real
            earlier = np.flatnonzero(keys[:pos] == keys[pos])
            duplicate[pos] = any(prepared.key(int(e)) == prepared.key(int(pos)) for e in earlier)
        fresh = np.flatnonzero(~duplicate)
        maybe = fresh[self.seen.maybe(keys[fresh])]
        if not len(maybe):
            return duplicate
        hit_keys, hit_batches = self.index.lookup(self._con, keys[maybe])
        candidates = maybe[np.isin(keys[maybe], hit_keys)]
        if len(candidates):
            stored = self._stored({prepared.key(int(p)) for p in candidates},
                                  np.unique(hit_batches))
            for pos in candidates:
                duplicate[pos] = prepared.key(int(pos)) in stored
        return duplicate

    def _stored(self, candidates: set[tuple[str, str]],
                batches: np.ndarray) -> set[tuple[str, str]]:
        """Which (project, id) pairs are stored already: the confirming lookup, in the
        ``batches`` the key index named (zone maps skip the others) when they are few."""
        ids = pa.table({"id": sorted({i for _, i in candidates})})
        self._con.register("_ww_maybe", ids)
        try:
            where = "id IN (SELECT id FROM _ww_maybe)"
            if len(batches) <= _MAX_BATCHES_LISTED:
                where = f"batch IN ({', '.join(map(str, batches.tolist()))}) AND {where}"
            rows = self._con.execute(
                f"SELECT DISTINCT b.project, u.id FROM ({layout.id_union(where)}) u "
                "JOIN batches b ON u.batch = b.batch").fetchall()
        finally:
            self._con.unregister("_ww_maybe")
        return {(str(p), str(i)) for p, i in rows} & candidates

    def _stage(self, wide: pa.Table, through: int) -> None:
        """Keep committed rows (batches up to ``through``) for the aggregates, in memory (Arrow
        tables, not logged); once ``flush_rows`` wait, aggregate them on the rollup thread."""
        with self._stage_lock:
            if wide.num_rows:
                self._staged_tables.append(wide.select(list(self._staged_columns)))
                self._pending += wide.num_rows
            self._staged_through = through
            pending = self._pending
        # under steady load the writer never idles: the staged rows (and the aggregation's
        # working memory, DuckDB's largest under load) are bounded by flush_rows alone
        if pending < self.flush_rows:
            return
        running = self._flushing
        if running is not None and not running.done():
            if pending < 2 * self.flush_rows:
                return  # the next flush takes these too
            running.result()  # falling behind: wait, so staged rows stay bounded
        staged = self._take_staged()
        if staged is not None:
            self._flushing = self._flusher.submit(self._aggregate_logged, *staged)

    def _take_staged(self) -> tuple[list[pa.Table], int, int] | None:
        with self._stage_lock:
            if not self._pending:
                return None
            staged, self._staged_tables = self._staged_tables, []
            done, self._pending = self._pending, 0
            return staged, done, self._staged_through

    def _wait_flush(self) -> None:
        """Wait for the aggregation running on the rollup thread, if any."""
        running, self._flushing = self._flushing, None
        if running is not None:
            running.result()

    def flush(self, force: bool = False) -> int:
        """Aggregate pending rows if enough time or rows have gathered; returns rows done.
        Waits for an aggregation already running on the rollup thread first; the writer thread
        calls it (idle, close) between commits."""
        self._wait_flush()
        if not self._pending:
            self._flushed_at = time.monotonic()
            return 0
        due = time.monotonic() - self._flushed_at >= self.flush_interval_s
        if not (force or due or self._pending >= self.flush_rows):
            return 0
        staged = self._take_staged()
        if staged is None:
            return 0
        return self._flusher.submit(self._aggregate, *staged).result()

    def _aggregate_logged(self, staged: list[pa.Table], done: int, through: int) -> int:
        try:
            return self._aggregate(staged, done, through)
        except StoreError:  # the rows are committed: the write succeeded all the same
            log.exception("aggregating the pending rows failed; kept for the next flush")
            return 0

    def _aggregate(self, staged: list[pa.Table], done: int, through: int) -> int:
        """Run the ``after_insert`` hooks over ``staged`` (batches up to ``through``) in one
        transaction of the rollup cursor, on the rollup thread: DuckDB does this work with
        the GIL released, beside the writer's next commits (other tables; the hooks read
        ``getvariable('ww_through')`` as the batch watermark, not the newest stored batch)."""
        con = self._agg
        try:
            # the hooks read the staged Arrow rows as a view (no copy into a table first)
            con.register(_PENDING, pa.concat_tables(staged))
            con.execute(f"SET VARIABLE ww_through = {int(through)}")
            con.execute("BEGIN")
            for hook in self._after_insert:
                hook(con, _PENDING)
            con.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            with contextlib.suppress(duckdb.Error):  # unclean until an aggregation succeeds
                con.execute("INSERT OR REPLACE INTO meta VALUES (?, 'false')", [_CLEAN])
            if not isinstance(exc, duckdb.Error):  # not the database's: would fail again
                self._lossy = True  # the next open rebuilds the aggregates from raw items
                raise StoreError(f"aggregating failed, {done} rows left to the rebuild at "
                                 f"the next start: {exc}") from exc
            with self._stage_lock:  # kept for the next flush
                self._staged_tables = staged + self._staged_tables
                self._pending += done
            raise StoreError(f"aggregating failed: {exc}") from exc
        finally:
            with contextlib.suppress(duckdb.Error):
                con.unregister(_PENDING)
            with contextlib.suppress(duckdb.Error):
                con.execute("RESET VARIABLE ww_through")
        self._flushed_at = time.monotonic()
        return done

    def recover(self, now_ms: int) -> bool:
        """After an unclean stop, rebuild the aggregates from raw items; True if it did."""
        rows = self._con.execute("SELECT value FROM meta WHERE key = ?", [_CLEAN]).fetchall()
        rebuilt = bool(rows) and rows[0][0] != "true" and bool(self._recover)
        if rebuilt:
            for hook in self._recover:
                hook(self._con, now_ms)
        self._mark(clean=False)  # until a clean close says otherwise
        return rebuilt

    def _mark(self, clean: bool) -> None:
        with contextlib.suppress(duckdb.Error):
            self._con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                              [_CLEAN, "true" if clean else "false"])

    def maintain(self, now_ms: int, retention_ms: int) -> int:
        """Delete raw items older than the retention period and run maintenance hooks."""
        cutoff = now_ms - retention_ms
        self._wait_flush()  # the hooks change the rollup tables: not beside an aggregation
        con = self._con
        deleted = 0
        try:
            for type_ in layout.TYPES:
                row = con.execute(f"DELETE FROM {layout.table_of(type_)} WHERE ts < ?",
                                  [cutoff]).fetchall()
                deleted += int(row[0][0]) if row else 0
            if deleted:
                con.execute("DELETE FROM batches WHERE batch NOT IN "
                            f"(SELECT DISTINCT batch FROM ({layout.id_union()}))")
            for hook in self._maintenance:  # each hook runs its own transactions
                hook(con, now_ms, cutoff)
        except duckdb.Error as exc:
            self._rollback()
            raise StoreError(f"maintenance failed: {exc}") from exc
        if deleted:
            self._forget(deleted)
        return deleted

    def _forget(self, deleted: int) -> None:
        """After retention: drop the key index's stale runs; refill the filter once many keys
        are gone, so it stays sharp."""
        con = self._con
        self._deleted_since_refill += deleted
        ((oldest,),) = con.execute("SELECT coalesce(min(batch), 0) FROM batches").fetchall()
        try:
            self.index.drop_before(con, int(oldest) if oldest else self._next_batch)
            if self._deleted_since_refill > 0.25 * self.stored_count() + 100_000:
                self.index.refill(con, self.seen)
                self._deleted_since_refill = 0
        except duckdb.Error as exc:
            raise StoreError(f"maintenance failed: {exc}") from exc

    def stored_count(self) -> int:
        parts = " + ".join(f"(SELECT count(*) FROM {layout.table_of(t)})" for t in layout.TYPES)
        row = self._con.execute(f"SELECT {parts}").fetchall()
        return int(row[0][0]) if row else 0

    def _rollback(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._con.execute("ROLLBACK")

    # -- reads (any thread, own cursor) -----------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def reader(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._con.cursor()
            self._local.cursor = cursor
        return cursor

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.reader().execute(sql, list(params))
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # -- projects, keys and secrets ---------------------------------------------------------

    def catalog(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``fn`` (see :mod:`wasmwatch.store.projects`) on the writer connection; call it
        on the writer thread (``Writer.run_exclusive``) once the writer runs."""
        return fn(self._con)

    def secret(self, name: str, given: str | None, prefix: str) -> str:
        """A secret given in settings, else the one stored on first start."""
        if given:
            return given
        row = self._con.execute("SELECT value FROM meta WHERE key = ?", [name]).fetchall()
        if row:
            return str(row[0][0])
        value = prefix + secrets.token_urlsafe(24)
        self._con.execute("INSERT INTO meta VALUES (?, ?)", [name, value])
        return value

    def close(self) -> list[str]:
        """Aggregate what is pending, checkpoint and close; returns what could not be done."""
        if self._closed:
            return []
        self._closed = True
        problems: list[str] = []
        try:
            self.flush(force=True)
            self._mark(clean=not self._lossy)
            if self._lossy:
                problems.append("some rows could not be aggregated (the next start rebuilds "
                                "the rollups)")
        except StoreError as exc:  # left unclean: the next open rebuilds the aggregates
            problems.append(f"{exc} (the next start rebuilds the rollups)")
        self._flusher.shutdown(wait=True)
        with contextlib.suppress(duckdb.Error):
            self._agg.close()
        try:
            self._con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            problems.append(f"checkpoint failed: {exc} (the next start replays the WAL)")
        self._con.close()
        return problems
