"""The store seam: a write protocol for the writer, plus reads for the server.

``MemoryStore`` is the in-memory double, shipped beside the protocol, for tests of the
layers above the store (it has no query engine: the query API needs DuckDB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

import duckdb
import numpy as np
import pyarrow as pa

from wasmwatch.store.schema import Row, rows_of

if TYPE_CHECKING:
    from wasmwatch.ingest.columnar import Prepared


class Written(NamedTuple):
    """What a write did: per item (in ``pos`` order) whether it was a duplicate; and the
    committed wide rows (``Row`` columns) when asked for."""

    duplicate: np.ndarray
    rows: pa.Table | None


class Store(Protocol):
    def write(self, prepared: Prepared, want_rows: bool = False) -> Written:
        """Durably store the items whose (project, id) is new; say which were duplicates.

        Called from one writer thread only.
        """
        ...

    def flush(self, force: bool = False) -> int:
        """Run deferred work (aggregates) if due; return how many rows it handled."""
        ...


class MemoryStore:
    """Keeps rows in a dict; for tests."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.writes = 0
        self._con = duckdb.connect(":memory:")

    def write(self, prepared: Prepared, want_rows: bool = False) -> Written:
        self.writes += 1
        duplicate = np.zeros(prepared.size, dtype=np.bool_)
        if not prepared.size:
            return Written(duplicate, None)
        prepared.derive(self._con, 1)
        self._con.unregister("_ww_ctx")
        table = self._con.sql("SELECT * EXCLUDE (batch) FROM _ww_new ORDER BY pos").to_arrow_table()
        kept = []
        for pos, row in zip(table.column("pos").to_pylist(), rows_of(table.drop(["pos"])),
                            strict=True):
            key = (row.project, row.id)
            duplicate[pos] = key in self.rows
            if not duplicate[pos]:
                self.rows[key] = row
                kept.append(pos)
        rows = table.take(pa.array(np.flatnonzero(~duplicate))).drop(["pos"]) if want_rows else None
        return Written(duplicate, rows)

    def flush(self, force: bool = False) -> int:
        return 0
