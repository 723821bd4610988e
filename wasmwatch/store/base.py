"""The store seam: a one-method write protocol for the writer, plus reads for the server.

``MemoryStore`` is the in-memory double, shipped beside the protocol, for tests of the
layers above the store (it has no query engine: the query API needs DuckDB).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from wasmwatch.store.schema import Row


class Store(Protocol):
    def write(self, rows: Sequence[Row]) -> set[str]:
        """Durably store the rows whose ids are new; return the ids that were already stored.

        Called from one writer thread only, with ids unique within the call.
        """
        ...


class MemoryStore:
    """Keeps rows in a dict; for tests."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.writes = 0

    def write(self, rows: Sequence[Row]) -> set[str]:
        self.writes += 1
        seen = {row.id for row in rows if (row.project, row.id) in self.rows}
        for row in rows:
            self.rows.setdefault((row.project, row.id), row)
        return seen
