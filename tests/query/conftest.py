"""Fixtures: a real DuckDB file with items and rollup tables, written the way the writer does."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from wasmwatch.query import rollup
from wasmwatch.store import layout
from wasmwatch.store.schema import COLUMNS

NOW = 1_764_000_000_000  # a whole hour, so windows and buckets line up in tests
MINUTE = 60_000
HOUR = 3_600_000
PROJECT = "p1"

_ARROW = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(),
          "BOOLEAN": pa.bool_()}
_ids = itertools.count()


def row(type_: str, ts: int, **fields: Any) -> dict[str, Any]:
    """One stored row of ``type_`` at ``ts`` with sensible context defaults."""
    return {"id": f"i{next(_ids)}", "project": PROJECT, "type": type_, "ts": ts,
            "client_ts": ts, "received": ts, "session": "s1", "release": "1.0.0",
            "browser": "Chrome", **fields}


def op(name: str, ms: float, ts: int, **fields: Any) -> dict[str, Any]:
    """An operation row."""
    return row("operation", ts, **{"name": name, "ms": ms, "ok": True, "offline": False, **fields})


def write(con: duckdb.DuckDBPyConnection, rows: Iterable[dict[str, Any]],
          batch_size: int = 5000,
          before_rollup: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None) -> None:
    """Insert ``rows`` into the stored layout (one batch per context), then apply the rollup
    (``before_rollup(con, "batch")`` first, as a flush hook ahead of it would run)."""
    rows = list(rows)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        table = pa.table({name: pa.array([r.get(name) for r in chunk], type=_ARROW[sql])
                          for name, sql in COLUMNS.items()})
        con.execute("BEGIN TRANSACTION")
        con.register("incoming", table)
        con.execute("CREATE OR REPLACE TEMP TABLE batch AS SELECT * FROM incoming")
        layout.load_wide(con, "batch")
        if before_rollup is not None:
            before_rollup(con, "batch")
        rollup.apply(con, "batch")
        con.execute("COMMIT")
        con.unregister("incoming")


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh DuckDB file with the items and rollup tables."""
    connection = duckdb.connect(str(tmp_path / "test.duckdb"))
    for ddl in [*layout.tables(), layout.view(), *rollup.ROLLUP_DDL]:
        connection.execute(ddl)
    yield connection
    connection.close()
