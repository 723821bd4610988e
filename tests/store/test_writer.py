"""Group commit over the in-memory store double and the real DuckDB store."""

from __future__ import annotations

import asyncio
import gc
import json
import random
import tracemalloc
from pathlib import Path
from typing import Any

import duckdb
import pytest

from wasmwatch.errors import QueueFull, StoreError
from wasmwatch.ingest import schema as s
from wasmwatch.ingest.columnar import Chunk, Prepared
from wasmwatch.store import projects
from wasmwatch.store.base import MemoryStore, Written
from wasmwatch.store.duckdb import DuckDBStore
from wasmwatch.store.layout import batch_context
from wasmwatch.store.writer import ENVELOPE_BYTES, ITEM_BYTES, Writer, held_bytes, held_for
from wasmwatch.web.ingest import decode_envelope

NOW = 1_764_000_000_000


def context(project: str = "default", received: int = NOW, **values: object) -> tuple[object, ...]:
    return batch_context(project, received, **{
        "session": "s1", "release": "1.0", "page": "/", "browser": "Chrome", "browser_major": 120,
        "os": "Linux", "online": True, "sdk": "t", **values})


def rows(*ids: str, ts: int = NOW, project: str = "default") -> Chunk:
    """A chunk of feature items (the name is kept from ``rows`` of the row-based writer)."""
    return Chunk(context(project), [s.Feature(id=i, ts=float(ts), name="x") for i in ids], 100)


def write(store: DuckDBStore, *chunks: Chunk) -> set[str]:
    """Write chunks as one group commit; the ids that were duplicates."""
    prepared = Prepared(list(chunks))
    written = store.write(prepared)
    return {prepared.items[p].id for p in range(prepared.size) if written.duplicate[p]}


async def test_concurrent_requests_share_commits() -> None:
    """Requests waiting together are committed together, each told its own duplicates."""
    store = MemoryStore()
    writer = Writer(store)
    writer.start()
    results = await asyncio.gather(*(writer.submit(rows(f"a{i}", "shared")) for i in range(50)))
    await writer.close()
    assert sorted(results) == [0] + [1] * 49
    assert len(store.rows) == 51
    assert store.writes < 50


async def test_queue_full_is_refused_at_once() -> None:
    """Past queue_max_items, submit raises QueueFull with a Retry-After."""
    writer = Writer(MemoryStore(), queue_max_items=3)
    with pytest.raises(QueueFull) as info:
        await writer.submit(rows("a", "b", "c", "d"))
    assert info.value.headers["retry-after"] == "1"


async def test_queue_bound_counts_held_memory_not_body_bytes() -> None:
    """The byte bound counts what a waiting request holds (its decoded items), so two
    chunks whose bodies fit under it are refused once their held memory does not."""
    first, second = rows("a", "b"), rows("c", "d")
    assert held_bytes(first) == first.nbytes + 2 * ITEM_BYTES + ENVELOPE_BYTES
    limit = held_bytes(first) + first.nbytes  # room for the bodies of both, not their items
    assert first.nbytes + second.nbytes <= limit < held_bytes(first) + held_bytes(second)
    store = MemoryStore()
    writer = Writer(store, queue_max_bytes=limit)
    waiting = asyncio.ensure_future(writer.submit(first))
    await asyncio.sleep(0)  # queued, not committed: the writer is not started
    assert writer.queued_bytes == held_bytes(first)
    with pytest.raises(QueueFull) as info:
        await writer.submit(second)
    assert info.value.headers["retry-after"] == "1"
    writer.start()
    assert await waiting == 0
    assert writer.queued_bytes == 0 and len(store.rows) == 2
    assert await writer.submit(second) == 0  # room again once committed
    await writer.close()


class FailingStore:
    def write(self, prepared: Prepared, want_rows: bool = False,
              columns: tuple[str, ...] | None = None) -> Written:
        raise StoreError("disk on fire")

    def flush(self, force: bool = False) -> int:
        return 0


async def test_store_failure_reaches_the_request() -> None:
    """A failed commit fails its requests (503 upstream), and the writer keeps running."""
    writer = Writer(FailingStore())
    writer.start()
    with pytest.raises(StoreError):
        await writer.submit(rows("a"))
    assert writer.depth == 0
    await writer.close()


async def test_close_commits_what_was_accepted(tmp_path: Path) -> None:
    """Closing the writer commits every accepted row before it returns."""
    store = DuckDBStore(tmp_path)
    writer = Writer(store)
    writer.start()
    pending = [asyncio.ensure_future(writer.submit(rows(f"r{i}"))) for i in range(100)]
    await asyncio.sleep(0)
    await writer.close()
    await asyncio.gather(*pending)
    assert store.query("SELECT count(*) AS n FROM items") == [{"n": 100}]
    store.close()


def test_duckdb_dedupes_against_stored_rows(tmp_path: Path) -> None:
    """DuckDB write returns ids already stored and stores only the new ones."""
    store = DuckDBStore(tmp_path)
    assert write(store, rows("a", "b")) == set()
    assert write(store, rows("b", "c")) == {"b"}
    assert store.query("SELECT id FROM items ORDER BY id") == [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    store.close()


def test_retention_deletes_old_rows(tmp_path: Path) -> None:
    """maintain() deletes raw items older than the retention period, and only those."""
    day = 86_400_000
    store = DuckDBStore(tmp_path)
    write(store, rows("old", ts=NOW - 31 * day), rows("new", ts=NOW - day))
    assert store.maintain(NOW, 30 * day) == 1
    assert store.query("SELECT id FROM items") == [{"id": "new"}]
    store.close()


def test_reopen_keeps_project_and_secret(tmp_path: Path) -> None:
    """The default project's key and the admin token survive a reopen."""
    store = DuckDBStore(tmp_path)
    store.catalog(lambda con: projects.ensure_default(con, None, [], NOW))
    key = store.catalog(projects.keys)[0].key
    token = store.secret("admin_token", None, "adm_")
    store.close()
    again = DuckDBStore(tmp_path)
    again.catalog(lambda con: projects.ensure_default(con, None, [], NOW))
    assert [k.key for k in again.catalog(projects.keys)] == [key]
    assert again.secret("admin_token", None, "adm_") == token
    again.close()


class Counting:
    """An aggregate hook that remembers how many rows it was given."""

    def __init__(self) -> None:
        self.rows = 0
        self.rebuilds = 0

    def apply(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        self.rows += con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]

    def rebuild(self, con: duckdb.DuckDBPyConnection, now_ms: int) -> None:
        self.rebuilds += 1


def test_aggregates_are_deferred_and_flushed(tmp_path: Path) -> None:
    """Aggregate hooks run off the commit path, once enough time or rows have gathered."""
    hooks = Counting()
    store = DuckDBStore(tmp_path, after_insert=[hooks.apply], flush_interval_s=3600)
    write(store, rows("a", "b"))
    write(store, rows("b", "c"))
    assert hooks.rows == 0
    assert store.flush() == 0  # not due yet
    assert store.flush(force=True) == 3
    assert hooks.rows == 3
    store.close()


def test_unclean_stop_rebuilds_aggregates(tmp_path: Path) -> None:
    """After a stop that skipped the final flush, the next open runs the recover hooks."""
    hooks = Counting()
    store = DuckDBStore(tmp_path, after_insert=[hooks.apply], recover=[hooks.rebuild])
    assert store.recover(NOW) is False
    write(store, rows("a"))
    store._con.close()  # a crash: no flush, no clean mark
    again = DuckDBStore(tmp_path, after_insert=[hooks.apply], recover=[hooks.rebuild])
    assert again.recover(NOW) is True
    assert hooks.rebuilds == 1
    again.close()
    third = DuckDBStore(tmp_path, after_insert=[hooks.apply], recover=[hooks.rebuild])
    assert third.recover(NOW) is False
    third.close()


class BrokenStore(FailingStore):
    def write(self, prepared: Prepared, want_rows: bool = False,
              columns: tuple[str, ...] | None = None) -> Written:
        raise RuntimeError("a bug in the store")


async def test_unexpected_store_exception_fails_the_group_not_the_writer() -> None:
    """A store raising something other than StoreError fails its requests; the writer lives on."""
    writer = Writer(BrokenStore())
    writer.start()
    for _ in range(2):
        with pytest.raises(StoreError):
            await asyncio.wait_for(writer.submit(rows("a")), 10)
    assert writer.depth == 0
    await writer.close()


async def test_hooks_see_every_commit_once_in_order_while_commits_overlap() -> None:
    """Hooks of a commit run beside the next one when requests wait, else at once; either way
    each committed item reaches them once, in commit order, and all have run after close."""
    store = MemoryStore()
    seen: list[str] = []
    writer = Writer(store, on_commit=[lambda got: seen.extend(r.id for r in got)],
                    commit_max_items=3, gather_items=1)
    writer.start()
    await writer.submit(rows("alone"))
    assert seen == ["alone"]  # nothing else waited: the hooks ran before the answer
    waiting = [asyncio.ensure_future(writer.submit(rows(f"r{i}"))) for i in range(30)]
    await asyncio.gather(*waiting)
    await writer.close()
    assert store.writes > 2  # several commits, so some hooks ran beside a later commit
    assert seen == ["alone", *(f"r{i}" for i in range(30))]


class SizedStore(MemoryStore):
    """The in-memory store, recording how many items each commit held."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, prepared: Prepared, want_rows: bool = False,
              columns: tuple[str, ...] | None = None) -> Written:
        self.sizes.append(prepared.size)
        return super().write(prepared, want_rows, columns)


async def test_a_group_waits_for_the_clients_of_the_last_one() -> None:
    """Clients that each send again some time after their answer (at different delays) are
    gathered into one group per round, not split between a group and the next."""
    store = SizedStore()
    # only "as many as last time" ends a gather here (no quiet end, no deadline in reach)
    writer = Writer(store, gather_s=30.0, gather_quiet_s=30.0)
    writer.start()

    async def client(n: int) -> None:
        for round_ in range(4):
            await writer.submit(rows(f"c{n}-{round_}"))
            await asyncio.sleep(0.001 * (n % 7))  # the client's turnaround

    await asyncio.wait_for(asyncio.gather(*(client(n) for n in range(20))), 20)
    await writer.close()
    assert store.sizes == [20, 20, 20, 20]


async def test_a_group_stops_waiting_for_clients_that_left() -> None:
    """When half the clients of the last group do not come back, the next group is committed
    after a quiet wait, not held until they do."""
    store = SizedStore()
    writer = Writer(store, gather_s=30.0, gather_quiet_s=0.005)
    writer.start()
    await asyncio.gather(*(writer.submit(rows(f"first{i}")) for i in range(10)))
    assert await asyncio.wait_for(
        asyncio.gather(*(writer.submit(rows(f"second{i}")) for i in range(5))), 10) == [0] * 5
    await writer.close()
    assert store.sizes == [10, 5]


def _wire_item(kind: str, i: int, rng: random.Random) -> dict[str, Any]:
    base: dict[str, Any] = {"id": f"load{rng.getrandbits(24):x}.{i:x}", "type": kind,
                            "ts": 1_764_000_000_000 + i}
    if kind == "operation":
        return base | {"name": rng.choice(["render", "save"]), "ms": rng.random() * 400,
                       "ok": True, "expected_ms": 50}
    if kind == "error":
        stack = "\n".join(f"    at fn_{rng.getrandbits(16):x} (app.wasm:wasm-function[{j}]:0x{j:x})"
                          for j in range(rng.randint(2, 30)))
        return base | {"category": "runtime", "kind": "RuntimeError", "stack": stack,
                       "message": f"index out of bounds at {rng.getrandbits(20)}"}
    if kind == "measurement":
        return base | {"name": "fps", "value": rng.random() * 120, "unit": "count",
                       "tags": {"scene": rng.choice("abc"), "level": rng.randint(1, 9)}}
    if kind == "memory":
        return base | {"wasm_bytes": rng.randint(16, 512) * 65536, "grow_count": 3}
    return base | {"name": rng.choice(["dark_mode", "export_pdf"])}  # feature


@pytest.mark.parametrize("shape", [(1, "operation"), (20, "mixed"), (1000, "mixed"),
                                   (1000, "operation"), (200, "error")])
def test_held_for_bounds_what_a_decoded_body_holds(shape: tuple[int, str]) -> None:
    """``held_for`` (what the queue's byte bound counts) is at least what tracemalloc finds a
    decoded envelope holding once its body is let go, and not far above it."""
    n, mix = shape
    rng = random.Random(n)
    kinds = ["operation", "operation", "error", "measurement", "memory", "feature"]
    bodies = [json.dumps({"context": {"session": f"s{b}", "release": "1.4.2"}, "items": [
        _wire_item(mix if mix != "mixed" else rng.choice(kinds), i, rng) for i in range(n)]}
    ).encode() for b in range(max(2, 2000 // n))]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        decoded = [decode_envelope(body) for body in bodies]
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    estimate = sum(held_for(len(body), n) for body in bodies)
    assert len(decoded) == len(bodies)
    assert held <= estimate <= 2.5 * held, (held, estimate)
