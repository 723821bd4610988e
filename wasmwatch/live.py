"""Live updates for the dashboard: each commit's new rows, summarized, fanned out to subscribers,
and other named events (alert transitions and deliveries) beside them.

A subscriber follows one project and sees only that project's rows: a commit holding rows of
several projects is summarized once per project. A subscriber is a bounded queue; a slow
subscriber loses updates (counted in ``dropped``) rather than slowing the writer.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pyarrow as pa

from wasmwatch.store.schema import Row, rows_of

Event = tuple[str, dict[str, Any]]  # (SSE event name, data)
#: the row columns :meth:`LiveHub.publish` reads (the writer hands on_commit hooks only those)
COLUMNS = ("project", "type", "category", "ms", "ts")


def summarize(rows: Sequence[Row]) -> dict[str, Any]:
    """Counts by type, errors by category and operation latency totals of one commit."""
    types = Counter(row.type for row in rows)
    errors = Counter(row.category for row in rows if row.type == "error")
    ops = [row.ms for row in rows if row.type == "operation" and row.ms is not None]
    last = max((row.ts for row in rows), default=0)
    return {
        "items": len(rows), "types": dict(types), "errors": dict(errors),
        "operations": {"count": len(ops), "sum_ms": sum(ops), "max_ms": max(ops, default=0.0)},
        "last_ts": last,
    }


class LiveHub:
    def __init__(self, queue_size: int = 100) -> None:
        self._subscribers: dict[asyncio.Queue[Event | None], str] = {}
        self._queue_size = queue_size
        self._closed = False
        self.dropped = 0

    def publish(self, rows: Sequence[Row] | pa.Table) -> None:
        if not len(rows) or not self._subscribers:
            return
        if isinstance(rows, pa.Table):
            rows = rows_of(rows)
        by_project: dict[str, list[Row]] = {}
        for row in rows:
            by_project.setdefault(row.project, []).append(row)
        updates = {project: summarize(mine) for project, mine in by_project.items()
                   if project in self._subscribers.values()}
        for queue, project in self._subscribers.items():
            update = updates.get(project)
            if update is None:
                continue
            try:
                queue.put_nowait(("items", update))
            except asyncio.QueueFull:
                self.dropped += 1

    def send(self, event: str, data: dict[str, Any], project: str = "default") -> None:
        """Fan one named event out to the project's subscribers (a full one misses it)."""
        for queue, theirs in self._subscribers.items():
            if theirs != project:
                continue
            try:
                queue.put_nowait((event, data))
            except asyncio.QueueFull:
                self.dropped += 1

    async def subscribe(self, project: str = "default",
                        heartbeat_s: float = 15.0) -> AsyncIterator[Event | None]:
        """The project's updates as they come; None every ``heartbeat_s`` of silence; ends when
        the hub closes."""
        if self._closed:
            return
        queue: asyncio.Queue[Event | None] = asyncio.Queue(self._queue_size)
        self._subscribers[queue] = project
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
            self._subscribers.pop(queue, None)

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
