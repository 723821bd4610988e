"""The store seam: a write protocol for the writer, plus reads for the server.

``MemoryStore`` is the in-memory double, shipped beside the protocol, for tests of the
layers above the store (it has no query engine: the query API needs DuckDB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

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
    def write(self, prepared: Prepared, want_rows: bool = False,
              columns: tuple[str, ...] | None = None) -> Written:
        """Durably store the items whose (project, id) is new; say which were duplicates, and
        give the committed rows (only ``columns`` of them when given) if ``want_rows``.

        Called from one writer thread only.
        """
        ...

    def flush(self, force: bool = False) -> int:
        """Run deferred work (aggregates) if due; return how many rows it handled."""
        ...


class MemoryStore:
    """Keeps rows in a dict; for tests. (The rows are derived by the same Arrow code as the
    real store's, so they have the same values.)"""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.writes = 0
        self._batch = 1

    def write(self, prepared: Prepared, want_rows: bool = False,
              columns: tuple[str, ...] | None = None) -> Written:
        self.writes += 1
        duplicate = np.zeros(prepared.size, dtype=np.bool_)
        seen = set(self.rows)
        for pos in range(prepared.size):
            key = prepared.key(pos)
            duplicate[pos] = key in seen
            seen.add(key)
        table = prepared.rows(self._batch, ~duplicate)
        self._batch += len(prepared.chunks)
        for row in rows_of(table):
            self.rows[(row.project, row.id)] = row
        return Written(duplicate, table.select(list(columns or table.column_names))
                       if want_rows else None)

    def flush(self, force: bool = False) -> int:
        return 0
