"""Group commit: requests wait on one bounded queue; one writer thread commits them together.

A request hands its checked items (a :class:`~wasmwatch.ingest.columnar.Chunk`) to
:meth:`Writer.submit` and awaits the commit that contains them. The writer takes every request
waiting (up to ``commit_max_items``), turns them into Arrow columns and commits them in one
store group on its own thread, then answers each request with its own duplicate count. While
one commit runs the next group gathers, so the commit rate adapts to the load by itself. When
the queue holds ``queue_max_items`` items or ``queue_max_bytes`` of memory, ``submit`` raises
:class:`QueueFull` at once: honest backpressure instead of unbounded memory. (Ingest first
waits up to ``queue_wait_s`` for room, :meth:`Writer.wait_room`, so a burst of bulk bodies
queues briefly instead of being refused and sent again at once.) A waiting request
holds its body and its decoded items, counted as :func:`held_bytes` (twice the body plus
:data:`ITEM_BYTES` per item, fitted with tracemalloc in ``bench/RESULTS.md``, memory3), so the
bound is on memory, not on body bytes (a queued item holds ~2-3x its share of the body).

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
``bench/RESULTS.md``). The group is not idle meanwhile: it is a store :class:`~.base.Group`,
and each batch of requests that joins is added to it on the writer thread at once (DuckDB
inserts it in the group's open transaction), so the inserts overlap the event loop answering
and reading the others; only the last requests' part and the ``COMMIT`` remain once the group
is complete. A request is answered only after its group's commit returned, as before.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pyarrow as pa

from wasmwatch.errors import QueueFull, StoreError
from wasmwatch.ingest.columnar import Chunk, Prepared
from wasmwatch.store import by_type
from wasmwatch.store.base import Group, Store
from wasmwatch.store.schema import Row, rows_of
from wasmwatch.telemetry import bus

log = logging.getLogger(__name__)
T = TypeVar("T")
OnCommit = Callable[[pa.Table | list[Row]], None]
_COMMIT = ("wasmwatch", "store", "commit")
#: commits of at least this many rows reach the hooks as Arrow, smaller ones as Row values
COLUMNAR_MIN_ROWS = 4096
#: Python objects of one decoded item beyond its strings (tracemalloc: 120-250 B by type)
ITEM_BYTES = 256


def held_for(body_bytes: int, items: int) -> int:
    """The memory a waiting request holds: its body, the decoded strings (about the body's
    size again) and the item objects."""
    return 2 * body_bytes + ITEM_BYTES * items


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
        part_min: int = 32,
    ) -> None:
        self.store = store
        self.idle_s = idle_s
        self.gather_s = gather_s
        self.gather_step_s = gather_step_s
        self.gather_quiet_s = gather_quiet_s
        #: a gathering group's early part holds at least this many requests
        self.part_min = part_min
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
        #: a group's transaction is open on the writer thread (run_exclusive waits)
        self._in_group = False
        self._held: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = []
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
        """Run ``fn`` on the writer thread, between commits (retention, maintenance): while a
        group's transaction is open it waits, and runs right after that group's commit."""
        loop = asyncio.get_running_loop()
        if not self._in_group:
            return await loop.run_in_executor(self._executor, fn, *args)
        turn: asyncio.Future[T] = loop.create_future()
        self._held.append((fn, args, turn))
        return await turn

    def _release_held(self) -> None:
        """Hand the writer thread the work that waited for the group to end (before the next
        group's first statement: the executor runs in order)."""
        held, self._held = self._held, []
        loop = asyncio.get_running_loop()
        for fn, args, turn in held:
            job = loop.run_in_executor(self._executor, fn, *args)
            job.add_done_callback(functools.partial(_settle, turn))

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
                await self._commit()
            self._run_hooks()  # nothing more to commit: the last commit's hooks now
            if self._closing and not self._pending:
                return

    def _gathered(self, requests: int, quiet: float, now: float, deadline: float) -> bool:
        """Whether a gathering group of ``requests`` (those added early) is complete: the
        requests of the last commit are back (:attr:`_expected`: its clients were answered and
        may send again), the queue is deep, the writer closes, ``gather_s`` passed, or
        ``quiet`` (seconds of idle-loop steps that brought nobody) reached ``gather_quiet_s``."""
        return (requests + len(self._pending) >= self._expected
                or self._depth >= self.gather_items
                or self._closing or now >= deadline or quiet >= self.gather_quiet_s)

    async def _gather(self, group: Group, taken: list[_Pending]) -> bool:
        """A small group costs a commit's fixed price: let more requests join it, for at most
        ``gather_s`` (see :meth:`_gathered`). Once half the requests it waits for (and at least
        ``part_min``) have joined, they are added to the group on the writer thread at once
        (inserted in its open transaction while the event loop answers and reads the others);
        the rest are added with the commit. One early part only: each part pays the statements'
        fixed price again (measured in ``bench/RESULTS.md``). A step of ``gather_step_s`` that
        took twice as long as asked or more means the loop was busy, e.g. answering the last
        group: not a quiet one. True if the last commit's hooks ran meanwhile."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = now + self.gather_s
        step = self.gather_step_s
        quiet = 0.0
        hooked = False
        part_at = max(self.part_min, self._expected // 2)
        while True:
            if not taken and len(self._pending) >= part_at:
                taken.extend(self._take())
                early = loop.run_in_executor(self._executor, self._add, group, taken)
                self._run_hooks()  # the previous commit's, on this thread meanwhile
                hooked = True
                await early
                now, quiet = loop.time(), 0.0
            else:
                joined = len(self._pending)
                before = now
                await asyncio.sleep(step)
                now = loop.time()
                quiet = (quiet + now - before if len(self._pending) == joined
                         and now - before < 2 * step else 0.0)
            if self._gathered(len(taken), quiet, now, deadline):
                return hooked

    def _take(self, size: int = 0) -> list[_Pending]:
        """Requests from the queue's head for a group holding ``size`` items (the first one
        even if it alone is over ``commit_max_items``)."""
        group: list[_Pending] = []
        while self._pending and (not (group or size) or size + len(self._pending[0].chunk.items)
                                 <= self.commit_max_items):
            item = self._pending.popleft()
            group.append(item)
            size += len(item.chunk.items)
        return group

    def _add(self, group: Group, taken: list[_Pending]) -> None:
        """Add requests to the group (writer thread): their columns, then the store's part;
        on any failure the group is aborted (its transaction never stays open)."""
        try:
            group.add(Prepared([p.chunk for p in taken]))
        except BaseException:
            group.abort()
            raise

    def _finish(self, group: Group, taken: list[_Pending], last: list[_Pending]
                ) -> tuple[list[int], pa.Table | None]:
        """The group's last requests added and the group committed (writer thread); each
        request's duplicates, and the committed rows."""
        if last or not taken:
            self._add(group, last)
        try:
            written = group.commit()
        except BaseException:
            group.abort()
            raise
        dups: list[int] = []
        at = 0
        for pending in (*taken, *last):
            n = len(pending.chunk.items)
            dups.append(int(written.duplicate[at:at + n].sum()))
            at += n
        return dups, written.rows

    async def _commit(self) -> None:
        """One group commit: its first requests added at once, more while it gathers, then
        the last ones and the commit; each request answered after it."""
        group_store = self.store.group(bool(self._on_commit), self.commit_columns)
        taken: list[_Pending] = []
        last: list[_Pending] = []
        loop = asyncio.get_running_loop()
        self._in_group = True
        try:
            with bus.span(_COMMIT) as span:
                hooked = False
                if self._depth < self.gather_items and not self._closing:
                    hooked = await self._gather(group_store, taken)
                last = self._take(sum(len(p.chunk.items) for p in taken))
                finished = loop.run_in_executor(self._executor, self._finish, group_store,
                                                taken, last)
                if not hooked:
                    self._run_hooks()  # the previous commit's, on this thread meanwhile
                dups, rows = await finished
                duplicates = sum(dups)
                span.measure(requests=len(taken) + len(last),
                             items=sum(len(p.chunk.items) for p in (*taken, *last)) - duplicates,
                             duplicates=duplicates)
        except Exception as exc:  # a store that fails in any way fails this group, not the writer
            self._fail([*taken, *last], exc)
            return
        finally:
            self._in_group = False
            self._release_held()
        requests = [*taken, *last]
        self._release(sum(len(p.chunk.items) for p in requests), sum(p.held for p in requests))
        self.last_error = None
        # its clients will be back, beside the ones already waiting: the next group's aim
        self._expected = len(requests) + len(self._pending)
        for pending, dup in zip(requests, dups, strict=True):
            if not pending.future.done():
                pending.future.set_result(dup)
        if rows is not None:
            self._due = rows
            if not self._pending:  # no commit to overlap with: the hooks now
                self._run_hooks()

    def _fail(self, group: list[_Pending], exc: Exception) -> None:
        size = sum(len(p.chunk.items) for p in group)
        if not isinstance(exc, StoreError):
            log.exception("commit of %d items failed unexpectedly", size)
            exc = StoreError(f"commit failed: {exc}")
        log.error("commit of %d items failed: %s", size, exc)
        self.last_error = str(exc)
        self.failed_items += size
        self._release(size, sum(p.held for p in group))
        for pending in group:
            if not pending.future.done():
                pending.future.set_exception(exc)

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


def _settle(turn: asyncio.Future[Any], job: asyncio.Future[Any]) -> None:
    """Pass a held job's outcome to the caller waiting for it (unless it stopped waiting)."""
    if turn.done():
        return
    if job.cancelled():
        turn.cancel()
    elif (exc := job.exception()) is not None:
        turn.set_exception(exc)
    else:
        turn.set_result(job.result())
