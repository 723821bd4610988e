"""Group commit: requests wait on one bounded queue; one writer thread commits them together.

A request hands its checked items (a :class:`~wasmwatch.ingest.columnar.Chunk`) to
:meth:`Writer.submit` and awaits the commit that contains them. The writer takes every request
waiting (up to ``commit_max_items``), turns them into Arrow columns and commits them in one
store write on its own thread, then answers each request with its own duplicate count. While
one commit runs the next group gathers, so the commit rate adapts to the load by itself. When
the queue holds ``queue_max_items`` items or ``queue_max_bytes`` of memory, ``submit`` raises
:class:`QueueFull` at once: honest backpressure instead of unbounded memory. (Ingest first
waits up to ``queue_wait_s`` for room, :meth:`Writer.wait_room`, so a burst of bulk bodies
queues briefly instead of being refused and sent again at once.) A waiting request
holds its decoded items (ingest lets the body go once it is decoded), counted as
:func:`held_bytes`: the body's size for their strings, :data:`ITEM_BYTES` per item and
:data:`ENVELOPE_BYTES`, at or above what tracemalloc finds them holding
(``tests/store/test_writer.py``), so the bound is on memory, not on body bytes (a queued item
holds ~2x its share of the body).

After each commit the ``on_commit`` hooks get the newly stored items in the wide
:class:`~wasmwatch.store.schema.Row` shape, only its ``commit_columns``: from
:data:`COLUMNAR_MIN_ROWS` rows on as the Arrow table (the metrics and the alert windows read it
a column at a time), below that as ``Row`` values made once for all hooks (Arrow kernels have
a fixed price per call that a small commit does not repay; measured in ``bench/RESULTS.md``).
When more requests wait, they run while the next commit runs on the writer thread (the event
loop and the writer then work at once instead of in turn), else right after the commit; each
commit's hooks run once, in commit order.

A commit has a fixed price (10-30 ms of CPU here for a group of single items of mixed types,
whatever its size: a statement per item type), so when fewer than ``gather_items`` rows wait
the writer lets more requests join the group first (PostgreSQL's ``commit_delay``): until as
many wait as the last commit answered plus those that waited beside it (its clients, answered,
send again: under many clients that each send one request at a time the group then holds all
of them, instead of half in one group and half in the next), or until ``gather_quiet_s`` of 1 ms
steps on an idle event loop brought none (nobody else is coming), and at most ``gather_s``. A
lone request waits 1 ms; under bulk load the queue is deep and nothing waits (measured in
``bench/RESULTS.md``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pyarrow as pa

from wasmwatch.errors import QueueFull, StoreError
from wasmwatch.ingest.columnar import Chunk, Prepared
from wasmwatch.store import by_type
from wasmwatch.store.base import Store
from wasmwatch.store.schema import Row, rows_of
from wasmwatch.telemetry import bus

log = logging.getLogger(__name__)
T = TypeVar("T")
OnCommit = Callable[[pa.Table | list[Row]], None]
_COMMIT = ("wasmwatch", "store", "commit")
#: commits of at least this many rows reach the hooks as Arrow, smaller ones as Row values
COLUMNAR_MIN_ROWS = 4096
#: Python objects of one decoded item beyond its strings' characters (tracemalloc: 120-250 B
#: by type, and ~50 B per string it holds)
ITEM_BYTES = 320
#: a decoded envelope's own objects (the envelope, its context and item list)
ENVELOPE_BYTES = 512


def held_for(body_bytes: int, items: int) -> int:
    """The memory a waiting request holds once decoded: the strings (at most the body's size)
    and the item objects. (Its body is let go once decoded; while a body waits for room
    before its decode, :meth:`Writer.wait_room` counts it apart.)"""
    return body_bytes + ITEM_BYTES * items + ENVELOPE_BYTES


def held_bytes(chunk: Chunk) -> int:
    """:func:`held_for` a decoded chunk."""
    return held_for(chunk.nbytes, len(chunk.items))


class _Pending:
    __slots__ = ("chunk", "future", "held")

    def __init__(self, chunk: Chunk, future: asyncio.Future[int]) -> None:
        self.chunk = chunk
        self.future = future
        self.held = held_bytes(chunk)


class Writer:
    def __init__(
        self,
        store: Store,
        *,
        queue_max_items: int = 200_000,
        queue_max_bytes: int = 32 << 20,
        commit_max_items: int = 100_000,
        on_commit: Sequence[OnCommit] = (),
        commit_columns: Sequence[str] | None = None,
        idle_s: float = 0.5,
        gather_s: float = 0.05,
        gather_items: int = 2000,
        gather_step_s: float = 0.001,
        gather_quiet_s: float = 0.005,
    ) -> None:
        self.store = store
        self.idle_s = idle_s
        self.gather_s = gather_s
        self.gather_step_s = gather_step_s
        self.gather_quiet_s = gather_quiet_s
        self.gather_items = gather_items
        self.queue_max_items = queue_max_items
        self.queue_max_bytes = queue_max_bytes
        self.commit_max_items = commit_max_items
        self._on_commit = tuple(on_commit)
        #: the Row columns the on_commit hooks read (None: all of them)
        self.commit_columns = tuple(commit_columns) if commit_columns else None
        self._pending: deque[_Pending] = deque()
        #: requests a gathering group waits for: the last group's plus those waiting then
        self._expected = 0
        self._depth = 0
        self._bytes = 0
        self._wake = asyncio.Event()
        #: set (and replaced) whenever a commit frees room in the queue
        self._room = asyncio.Event()
        #: bytes of the bodies waiting for room (see wait_room)
        self._room_bytes = 0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="wasmwatch-writer")
        self._task: asyncio.Task[None] | None = None
        #: the rows of the last commit whose on_commit hooks have not run yet
        self._due: pa.Table | None = None
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

    @property
    def queued_bytes(self) -> int:
        """Memory held by the requests accepted and not yet committed (:func:`held_bytes`)."""
        return self._bytes

    def has_room(self, need: int) -> bool:
        """Whether ``need`` more bytes (:func:`held_bytes`) fit the queue now; an empty queue
        takes anything."""
        return not self._bytes or self._bytes + need <= self.queue_max_bytes

    async def wait_room(self, need: int, hold: int, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` until ``need`` more bytes fit the queue; False if they did not
        (or the server is closing). ``hold`` is what the caller holds meanwhile (its body): the
        bodies waiting here are bounded by half of ``queue_max_bytes``, beyond which this
        returns False at once, so waiting adds at most half the bound to memory (measured in
        bench/RESULTS.md). Room seen here is not reserved: :meth:`submit` checks again."""
        if self.has_room(need):
            return True
        if self._closing or timeout_s <= 0 or self._room_bytes + hold > self.queue_max_bytes // 2:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        self._room_bytes += hold
        try:
            while not self.has_room(need):
                left = deadline - loop.time()
                if self._closing or left <= 0:
                    return False
                try:
                    await asyncio.wait_for(self._room.wait(), left)
                except TimeoutError:
                    return self.has_room(need)
            return True
        finally:
            self._room_bytes -= hold

    async def submit(self, chunk: Chunk) -> int:
        """Wait until ``chunk``'s items are committed; return how many were already stored."""
        n = len(chunk.items)
        if not n:
            return 0
        if self._closing:
            raise QueueFull("server is shutting down", retry_after_s=5)
        if self._depth + n > self.queue_max_items:
            raise QueueFull(f"write queue full ({self._depth} items waiting)", retry_after_s=1)
        held = held_bytes(chunk)
        if not self.has_room(held):
            raise QueueFull(f"write queue full ({self._bytes} bytes waiting)", retry_after_s=1)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        pending = _Pending(chunk, future)
        self._pending.append(pending)
        self._depth += n
        self._bytes += pending.held
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
        flush = self.store.flush
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.idle_s)
            except TimeoutError:
                await self._guarded(flush)
                continue
            self._wake.clear()
            while self._pending:
                if self._depth < self.gather_items and not self._closing:
                    await self._gather()
                await self._commit(self._take())
            self._run_hooks()  # nothing more to commit: the last commit's hooks now
            if self._closing and not self._pending:
                return

    async def _gather(self) -> None:
        """A small group costs a commit's fixed price: let more requests join it, for at most
        ``gather_s``, until the requests of the last commit are back (:attr:`_expected`: its
        clients were answered and may send again) or steps of ``gather_step_s`` on an idle
        event loop brought none for ``gather_quiet_s`` (nobody else is coming). A step that
        took twice as long as asked or more means the loop was busy, e.g. answering the last
        group: not a quiet one."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = now + self.gather_s
        step = self.gather_step_s
        quiet = 0.0
        while True:
            joined = len(self._pending)
            before = now
            await asyncio.sleep(step)
            now = loop.time()
            waiting = len(self._pending)
            quiet = quiet + now - before if waiting == joined and now - before < 2 * step else 0.0
            if (waiting >= self._expected or self._depth >= self.gather_items
                    or self._closing or now >= deadline or quiet >= self.gather_quiet_s):
                return

    def _take(self) -> list[_Pending]:
        group: list[_Pending] = []
        size = 0
        while self._pending and (not group or size + len(self._pending[0].chunk.items)
                                 <= self.commit_max_items):
            item = self._pending.popleft()
            group.append(item)
            size += len(item.chunk.items)
        return group

    def _write(self, chunks: list[Chunk]) -> tuple[list[int], pa.Table | None]:
        prepared = Prepared(chunks)
        written = self.store.write(prepared, bool(self._on_commit), self.commit_columns)
        return prepared.per_chunk(written.duplicate), written.rows

    async def _commit(self, group: list[_Pending]) -> None:
        chunks = [p.chunk for p in group]
        size = sum(len(c.items) for c in chunks)
        nbytes = sum(p.held for p in group)
        loop = asyncio.get_running_loop()
        try:
            with bus.span(_COMMIT, {"requests": len(group)}) as span:
                written = loop.run_in_executor(self._executor, self._write, chunks)
                self._run_hooks()  # the previous commit's, on this thread while that one runs
                dups, rows = await written
                duplicates = sum(dups)
                span.measure(items=size - duplicates, duplicates=duplicates)
        except Exception as exc:  # a store that fails in any way fails this group, not the writer
            if not isinstance(exc, StoreError):
                log.exception("commit of %d items failed unexpectedly", size)
                exc = StoreError(f"commit failed: {exc}")
            log.error("commit of %d items failed: %s", size, exc)
            self.last_error = str(exc)
            self.failed_items += size
            self._release(size, nbytes)
            for pending in group:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        self._release(size, nbytes)
        self.last_error = None
        # its clients will be back, beside the ones already waiting: the next group's aim
        self._expected = len(group) + len(self._pending)
        for pending, dup in zip(group, dups, strict=True):
            if not pending.future.done():
                pending.future.set_result(dup)
        if rows is not None:
            self._due = rows
            if not self._pending:  # no commit to overlap with: the hooks now
                self._run_hooks()

    def _run_hooks(self) -> None:
        """The ``on_commit`` hooks of the last commit, once: while the next commit runs on the
        writer thread (they need the event loop's thread and the GIL; DuckDB's commit mostly
        does not), or at once when no other request waits."""
        rows, self._due = self._due, None
        if rows is None:
            return
        values: pa.Table | list[Row] = rows
        if rows.num_rows < COLUMNAR_MIN_ROWS:
            try:
                values = rows_of(rows)
            except Exception:
                log.exception("committed rows could not be read for the on_commit hooks")
                return
        for hook in self._on_commit:
            try:
                hook(values)
            except Exception:
                log.exception("on_commit hook failed")
        by_type.forget()

    def _release(self, size: int, nbytes: int) -> None:
        self._depth -= size
        self._bytes -= nbytes
        if self._room_bytes:  # wake every request waiting for room; later ones wait anew
            self._room.set()
            self._room = asyncio.Event()

    async def close(self) -> None:
        """Commit everything accepted, then stop the writer thread."""
        self._closing = True
        self._wake.set()
        self._room.set()  # requests waiting for room get their 503 now
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)
