"""Live updates for the dashboard: each commit's new rows, summarized, fanned out to subscribers.

The rows come as the Arrow table the writer's on_commit hooks get; they are summarized on
columns (pyarrow compute), not one by one.

A subscriber is a bounded queue; a slow subscriber loses updates (counted in ``dropped``)
rather than slowing the writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def _counts(column: pa.ChunkedArray) -> dict[Any, int]:
    return {v["values"]: v["counts"] for v in pc.value_counts(column).to_pylist()}


def summarize(rows: pa.Table) -> dict[str, Any]:
    """Counts by type, errors by category and operation latency totals of one commit."""
    types = rows.column("type")
    errors = rows.filter(pc.equal(types, "error")).column("category")
    ops = rows.filter(pc.equal(types, "operation")).column("ms").drop_null()
    last = pc.max(rows.column("ts")).as_py() if rows.num_rows else 0
    return {
        "items": rows.num_rows, "types": _counts(types), "errors": _counts(errors),
        "operations": {"count": len(ops), "sum_ms": pc.sum(ops).as_py() or 0.0,
                       "max_ms": pc.max(ops).as_py() or 0.0},
        "last_ts": last,
    }


#: the row columns :func:`summarize` reads
COLUMNS = ("type", "category", "ms", "ts")


class LiveHub:
    def __init__(self, queue_size: int = 100) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._queue_size = queue_size
        self._closed = False
        self.dropped = 0

    def publish(self, rows: pa.Table) -> None:
        if not rows.num_rows or not self._subscribers:
            return
        update = summarize(rows)
        for queue in self._subscribers:
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:
                self.dropped += 1

    async def subscribe(self, heartbeat_s: float = 15.0) -> AsyncIterator[dict[str, Any] | None]:
        """Updates as they come; None every ``heartbeat_s`` of silence; ends when the hub closes."""
        if self._closed:
            return
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            while True:
                try:
                    update = await asyncio.wait_for(queue.get(), heartbeat_s)
                except TimeoutError:
                    yield None
                    continue
                if update is None:
                    return
                yield update
        finally:
            self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        """End every stream, now and from now on."""
        self._closed = True
        for queue in self._subscribers:
            try:
                queue.put_nowait(None)
            except asyncio.QueueFull:
                queue.get_nowait()
                queue.put_nowait(None)
