"""The store seam: a write protocol for the writer, plus reads for the server.

A group commit reaches a store as a :class:`Group`: parts added one at a time while the group
gathers (the real store inserts each at once inside one open transaction, so that work
overlaps the event loop's), then committed once. :class:`WriteAtCommit` is the group of a
store that only has ``write``: it keeps the parts and writes them together at commit.

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


class Group(Protocol):
    """One group commit, on the writer thread: ``add`` parts, then ``commit`` or ``abort``.
    Nothing added is durable, nor visible to readers, before ``commit`` returns."""

    def add(self, prepared: Prepared) -> None:
        """Take one more part of the group (a part never repeats an earlier one's duplicates:
        an item whose (project, id) an earlier part holds is a duplicate)."""
        ...

    def commit(self) -> Written:
        """Store every part's new items durably; ``duplicate`` in part order, then ``pos``."""
        ...

    def abort(self) -> None:
        """Drop the parts added; nothing of them is stored."""
        ...


class Store(Protocol):
    def group(self, want_rows: bool = False, columns: tuple[str, ...] | None = None) -> Group:
        """A group commit to add parts to (its rows as for :meth:`write`)."""
        ...

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


class WriteAtCommit:
    """The :class:`Group` of a store with ``write`` alone: the parts are kept and written as
    one ``write`` at commit."""

    def __init__(self, store: Store, want_rows: bool = False,
                 columns: tuple[str, ...] | None = None) -> None:
        self.store = store
        self.want_rows = want_rows
        self.columns = columns
        self.parts: list[Prepared] = []

    def add(self, prepared: Prepared) -> None:
        self.parts.append(prepared)

    def commit(self) -> Written:
        from wasmwatch.ingest.columnar import Prepared

        parts, self.parts = self.parts, []
        whole = parts[0] if len(parts) == 1 else Prepared(
            [chunk for part in parts for chunk in part.chunks])  # no parts: an empty write
        return self.store.write(whole, self.want_rows, self.columns)

    def abort(self) -> None:
        self.parts = []


class MemoryStore:
    """Keeps rows in a dict; for tests. (The rows are derived by the same Arrow code as the
    real store's, so they have the same values.)"""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.writes = 0
        self._batch = 1

    def group(self, want_rows: bool = False,
              columns: tuple[str, ...] | None = None) -> WriteAtCommit:
        return WriteAtCommit(self, want_rows, columns)

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
