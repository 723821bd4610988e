"""Group commit: requests wait on one bounded queue; one writer thread commits them together.

A request hands its rows to :meth:`Writer.submit` and awaits the commit that contains them.
The writer takes every request waiting (up to ``commit_max_items``), commits them in one store
write on its own thread, then answers each request with its own duplicate count. While one
commit runs the next group gathers, so the commit rate adapts to the load by itself. When the
queue holds ``queue_max_items`` rows, ``submit`` raises :class:`QueueFull` at once: honest
backpressure instead of unbounded memory.

A commit has a fixed price (about 3 ms of DuckDB work here, whatever its size), so when fewer
than ``gather_items`` rows wait the writer gives more requests ``gather_s`` to join the group
first (PostgreSQL's ``commit_delay``): under many small requests that cut the server's CPU per
request by a quarter; under bulk load the queue is deep and nothing waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from wasmwatch.errors import QueueFull, StoreError
from wasmwatch.store.base import Store
from wasmwatch.store.schema import Row
from wasmwatch.telemetry import bus

log = logging.getLogger(__name__)
T = TypeVar("T")
OnCommit = Callable[[list[Row]], None]
_COMMIT = ("wasmwatch", "store", "commit")


class _Pending:
    __slots__ = ("future", "rows")

    def __init__(self, rows: Sequence[Row], future: asyncio.Future[int]) -> None:
        self.rows = rows
        self.future = future


class Writer:
    def __init__(
        self,
        store: Store,
        *,
        queue_max_items: int = 200_000,
        commit_max_items: int = 100_000,
        on_commit: Sequence[OnCommit] = (),
        idle_s: float = 0.5,
        gather_s: float = 0.005,
        gather_items: int = 2000,
    ) -> None:
        self.store = store
        self.idle_s = idle_s
        self.gather_s = gather_s
        self.gather_items = gather_items
        self.queue_max_items = queue_max_items
        self.commit_max_items = commit_max_items
        self._on_commit = tuple(on_commit)
        self._pending: deque[_Pending] = deque()
        self._depth = 0
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="wasmwatch-writer")
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: the error of the most recent commit when it failed, ``None`` once one succeeds
        self.last_error: str | None = None
        #: items whose commit failed (their requests were answered with the error)
        self.failed_items = 0

    @property
    def depth(self) -> int:
        """Rows accepted and not yet committed."""
        return self._depth

    @property
    def alive(self) -> bool:
        """The writer task is running (started and neither finished nor crashed)."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="wasmwatch-writer")

    async def submit(self, rows: Sequence[Row]) -> int:
        """Wait until ``rows`` are committed; return how many were already stored."""
        if not rows:
            return 0
        if self._closing:
            raise QueueFull("server is shutting down", retry_after_s=5)
        if self._depth + len(rows) > self.queue_max_items:
            raise QueueFull(f"write queue full ({self._depth} items waiting)", retry_after_s=1)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(rows, future))
        self._depth += len(rows)
        self._wake.set()
        return await future

    async def _guarded(self, fn: Callable[[], object]) -> None:
        try:
            await self.run_exclusive(fn)
        except StoreError as exc:
            log.error("%s", exc)

    async def run_exclusive(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the writer thread, between commits (retention, maintenance)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _run(self) -> None:
        flush = getattr(self.store, "flush", None)  # optional: stores with deferred aggregates
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.idle_s)
            except TimeoutError:
                if flush is not None:
                    await self._guarded(flush)
                continue
            self._wake.clear()
            while self._pending:
                if self._depth < self.gather_items and not self._closing:
                    # a small group costs a commit's fixed price: let a few more requests join
                    await asyncio.sleep(self.gather_s)
                await self._commit(self._take())
            if self._closing and not self._pending:
                return

    def _take(self) -> list[_Pending]:
        group: list[_Pending] = []
        size = 0
        while self._pending and (not group or size + len(self._pending[0].rows) <= self.commit_max_items):
            item = self._pending.popleft()
            group.append(item)
            size += len(item.rows)
        return group

    async def _commit(self, group: list[_Pending]) -> None:
        rows: list[Row] = []
        seen: set[str] = set()
        firsts: list[list[str]] = []  # per request, the ids it was first in the group to bring
        for pending in group:
            mine = []
            for row in pending.rows:
                if row.id not in seen:
                    seen.add(row.id)
                    rows.append(row)
                    mine.append(row.id)
            firsts.append(mine)
        size = sum(len(p.rows) for p in group)
        loop = asyncio.get_running_loop()
        try:
            with bus.span(_COMMIT, {"requests": len(group)}) as span:
                stored = await loop.run_in_executor(self._executor, self.store.write, rows)
                span.measure(items=len(rows) - len(stored), duplicates=size - len(rows) + len(stored))
        except StoreError as exc:
            log.error("commit of %d items failed: %s", len(rows), exc)
            self.last_error = str(exc)
            self.failed_items += size
            self._depth -= size
            for pending in group:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        self._depth -= size
        self.last_error = None
        for pending, mine in zip(group, firsts, strict=True):
            if not pending.future.done():
                again = sum(1 for i in mine if i in stored) if stored else 0
                pending.future.set_result(len(pending.rows) - len(mine) + again)
        if stored:
            rows = [r for r in rows if r.id not in stored]
        for hook in self._on_commit:
            try:
                hook(rows)
            except Exception:
                log.exception("on_commit hook failed")

    async def close(self) -> None:
        """Commit everything accepted, then stop the writer thread."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)
