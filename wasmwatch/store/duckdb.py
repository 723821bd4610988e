"""The embedded store: one DuckDB file in the data dir.

Writes come from one writer thread (``write``, ``flush`` and ``maintain``); each group commit
lands as one columnar batch: the rows are encoded as JSON in one call and DuckDB's own JSON
reader appends them to ``items`` in a single statement that also skips ids already stored
(a commit costs about 1.5 ms per statement here, so fewer statements is most of the game for
small groups). Readers take their own cursor (``reader()``), one per thread.

Aggregates (the query rollups) are kept off the commit path: committed rows also go to an
in-memory pending table, and the ``after_insert`` hooks aggregate it at most every
``flush_interval_s`` (or every ``flush_rows`` rows) in their own transaction, so their fixed
cost is paid once per second instead of once per commit. A crash loses only that pending
table; the next open sees the unclean flag in ``meta`` and runs the ``recover`` hooks (a
rebuild from raw items), so aggregates stay exact.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import msgspec

from wasmwatch.errors import StoreError
from wasmwatch.store import projects as project_tables
from wasmwatch.store.projects import Project
from wasmwatch.store.schema import COLUMNS, ITEMS_DDL, Row

__all__ = ["DuckDBStore", "Project"]
T = TypeVar("T")

log = logging.getLogger(__name__)
AfterInsert = Callable[[duckdb.DuckDBPyConnection, str], None]
Maintenance = Callable[[duckdb.DuckDBPyConnection, int, int], None]  # (con, now, cutoff)
Recover = Callable[[duckdb.DuckDBPyConnection, int], None]  # (con, now)
_PENDING = "_ww_pending"
_CLEAN = "aggregates_clean"

_META_DDL = ("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",)
_JSON_COLUMNS = "{" + ", ".join(f"'{name}': '{sql}'" for name, sql in COLUMNS.items()) + "}"
_encoder = msgspec.json.Encoder()


def _scratch_dir(data_dir: Path) -> Path:
    """Batches pass through memory-backed files where the OS has them."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="wasmwatch-", dir=shm))
    scratch = data_dir / "tmp"
    scratch.mkdir(exist_ok=True)
    return scratch


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
        flush_rows: int = 250_000,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "wasmwatch.duckdb"
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        # a checkpoint inside a commit stalls every waiting request: make them rare and large
        self._con.execute("SET checkpoint_threshold = '256MB'")
        for statement in (ITEMS_DDL, *_META_DDL, *ddl):
            self._con.execute(statement)
        if project_tables.migrate(self._con):
            log.warning("projects and keys moved to the 0.2 layout (tables projects, ingest_keys)")
        self._after_insert = tuple(after_insert)
        self._maintenance = tuple(maintenance)
        self._recover = tuple(recover)
        self.flush_interval_s = flush_interval_s
        self.flush_rows = flush_rows
        self._pending = 0
        self._lossy = False  # aggregates missed rows: leave the unclean flag for the next open
        self._flushed_at = time.monotonic()
        # only what the aggregates read is staged (not messages and stacks)
        self._staged = ", ".join(aggregate_columns) if aggregate_columns else "*"
        self._con.execute(f"CREATE TEMP TABLE {_PENDING} AS SELECT {self._staged} FROM items LIMIT 0")
        self._scratch = _scratch_dir(data_dir)
        self._batch_file = self._scratch / "batch.json"
        self._batch_file.write_bytes(b"[]")
        self._con.execute(
            "CREATE OR REPLACE TEMP VIEW batch_file AS SELECT * FROM read_json("
            f"'{self._batch_file}', format='array', columns={_JSON_COLUMNS}, "
            "maximum_object_size=67108864)"
        )
        self._local = threading.local()
        self._closed = False

    # -- writes (writer thread only) -------------------------------------------------------

    def write(self, rows: Sequence[Row]) -> set[str]:
        if not rows:
            return set()
        self._batch_file.write_bytes(_encoder.encode(rows))
        lo = min(row.client_ts for row in rows)
        hi = max(row.client_ts for row in rows)
        try:
            # one statement, one transaction: skip what is stored already, append the rest, and
            # say which ids went in; the stored side is read only where client_ts may match
            inserted = {
                r[0]
                for r in self._con.execute(
                    "INSERT INTO items SELECT * FROM batch_file b WHERE NOT EXISTS ("
                    "SELECT 1 FROM items i WHERE i.client_ts BETWEEN ? AND ? "
                    "AND i.id = b.id AND i.project = b.project) RETURNING id",
                    [lo, hi],
                ).fetchall()
            }
        except duckdb.Error as exc:
            raise StoreError(f"write failed: {exc}") from exc
        dups = {row.id for row in rows} - inserted if len(inserted) < len(rows) else set()
        if self._after_insert:
            self._stage(len(inserted), dups)
        return dups

    def _stage(self, n: int, dups: set[str]) -> None:
        """Keep committed rows for the aggregates; temp tables are memory only, not logged."""
        where, params = ("WHERE NOT list_contains(?, id)", [sorted(dups)]) if dups else ("", [])
        try:
            self._con.execute(
                f"INSERT INTO {_PENDING} SELECT {self._staged} FROM batch_file {where}", params)
        except duckdb.Error:
            # the rows are durable already, so the request still succeeds; the aggregates now
            # miss them, and the next open rebuilds them from raw items
            log.exception("staging rows for the rollups failed; they are rebuilt on next start")
            self._lossy = True
            self._mark(clean=False)
            return
        self._pending += n
        if self._pending >= self.flush_rows:
            self.flush()

    def flush(self, force: bool = False) -> int:
        """Aggregate pending rows if enough time or rows have gathered; returns rows done."""
        if not self._pending:
            self._flushed_at = time.monotonic()
            return 0
        due = time.monotonic() - self._flushed_at >= self.flush_interval_s
        if not (force or due or self._pending >= self.flush_rows):
            return 0
        con = self._con
        try:
            con.execute("BEGIN")
            for hook in self._after_insert:
                hook(con, _PENDING)
            con.execute("COMMIT")
        except duckdb.Error as exc:
            self._rollback()
            self._mark(clean=False)
            raise StoreError(f"aggregating failed: {exc}") from exc
        con.execute(f"DELETE FROM {_PENDING}")
        done, self._pending = self._pending, 0
        self._flushed_at = time.monotonic()
        return done

    def recover(self, now_ms: int) -> bool:
        """After an unclean stop, rebuild the aggregates from raw items; True if it did."""
        row = self._con.execute("SELECT value FROM meta WHERE key = ?", [_CLEAN]).fetchone()
        rebuilt = row is not None and row[0] != "true" and bool(self._recover)
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
        con = self._con
        try:
            row = con.execute("DELETE FROM items WHERE ts < ?", [cutoff]).fetchone()
            for hook in self._maintenance:  # each hook runs its own transactions
                hook(con, now_ms, cutoff)
        except duckdb.Error as exc:
            self._rollback()
            raise StoreError(f"maintenance failed: {exc}") from exc
        return int(row[0]) if row else 0

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
        row = self._con.execute("SELECT value FROM meta WHERE key = ?", [name]).fetchone()
        if row:
            return str(row[0])
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
        except StoreError as exc:  # left unclean: the next open rebuilds the aggregates
            problems.append(f"{exc} (the next start rebuilds the rollups)")
        try:
            self._con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            problems.append(f"checkpoint failed: {exc} (the next start replays the WAL)")
        self._con.close()
        self._batch_file.unlink(missing_ok=True)
        if self._scratch.name.startswith("wasmwatch-"):
            with contextlib.suppress(OSError):
                self._scratch.rmdir()
        return problems
