"""The evaluator's feed: items that other nodes committed, read back from the shared store.

On a single node the writer hands every commit to the alert engine, the live stream and the
client metrics. With separate ingest nodes the evaluator commits nothing, so it polls the store
for items by the time they were received (:meth:`Tail.poll`). Ingest nodes' clocks and commits
do not arrive in order, so each poll looks back ``overlap_ms`` before the newest ``received``
seen and drops the (project, id) pairs it already handed on.
"""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Arrivals", "Tail"]


class Arrivals(Protocol):
    def arrived(self, since_ms: int) -> pa.Table:
        """Items whose ``received`` is ``since_ms`` or later."""
        ...


class Tail:
    def __init__(self, store: Arrivals, start_ms: int, overlap_ms: int = 10_000) -> None:
        self.store = store
        self.overlap_ms = overlap_ms
        self.newest_ms = start_ms
        self._seen: dict[tuple[str, str], int] = {}

    def poll(self) -> pa.Table | None:
        """The items not handed on yet (None when there are none)."""
        since = self.newest_ms - self.overlap_ms
        table = self.store.arrived(since)
        if not table.num_rows:
            return None
        keys = zip(table.column("project").to_pylist(), table.column("id").to_pylist(),
                   table.column("received").to_pylist(), strict=True)
        fresh = []
        for project, id_, received in keys:
            new = (project, id_) not in self._seen
            fresh.append(new)
            if new:
                self._seen[(project, id_)] = received
        self.newest_ms = max(self.newest_ms, int(pc.max(table.column("received")).as_py()))
        cutoff = self.newest_ms - 2 * self.overlap_ms
        self._seen = {k: r for k, r in self._seen.items() if r >= cutoff}
        table = table.filter(pa.array(fresh))
        return table if table.num_rows else None
