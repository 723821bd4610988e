"""The dedup key, the Bloom filter and the on-disk key index behind exact idempotency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from tests.store.test_writer import rows, write
from wasmwatch.store import seen
from wasmwatch.store.duckdb import DuckDBStore
from wasmwatch.store.seen import key_hashes, string_hashes

NOW = 1_764_000_000_000
DAY = 86_400_000
ODD = ["", "a", "é", "ab" * 40, "x.y:z-1_2", "€uro", "12345678", "123456789"]


def test_key_hash_is_stable_and_per_string() -> None:
    """A key's hash is the same in every call and batch size, in both code paths, per project."""
    ids = ODD + [f"id-{i}" for i in range(100)]
    alone = [int(key_hashes(["default"], [i])[0]) for i in ids]  # the plain-Python path
    together = key_hashes(["default"] * len(ids), ids)  # the numpy path
    arrow = key_hashes(pa.array(["default"] * len(ids)), pa.array(ids))
    assert alone == together.tolist() == arrow.tolist()
    assert len(set(alone)) == len(ids)
    assert key_hashes(["other"], ["a"])[0] != key_hashes(["default"], ["a"])[0]
    mixed = key_hashes(["default", "other"] * 20, ["a"] * 40)
    assert set(mixed.tolist()) == {alone[1], int(key_hashes(["other"], ["a"])[0])}
    # a fixed value: hashes written to disk by an older process must still match
    assert int(string_hashes(pa.array(["wasmwatch"]))[0]) == seen._string_hash_int("wasmwatch")
    assert int(string_hashes(pa.array(["wasmwatch"]))[0]) == 3624852725608587170


def test_index_runs_survive_reopen_and_crash(tmp_path: Path) -> None:
    """Keys go to sorted runs on disk once enough gather; replays are caught from runs, from
    memory, and after a crash (the in-memory part recomputed from the newest batches)."""
    store = DuckDBStore(tmp_path, index_run_keys=4)
    assert write(store, rows("a", "b", "c"), rows("d", "e")) == set()
    assert store.index.runs and store.index.recent == 0  # 5 keys >= 4: written as a run
    assert write(store, rows("f", "g")) == set()
    assert store.index.recent == 2
    store._con.close()  # a crash: "f" and "g" were only in memory
    again = DuckDBStore(tmp_path, index_run_keys=4)
    assert again.index.recent == 2 and again.seen.count == 7
    assert write(again, rows("a", "g", "h", ts=NOW - DAY)) == {"a", "g"}
    again.close()
    third = DuckDBStore(tmp_path, index_run_keys=4)
    assert write(third, rows(*"abcdefghij")) == set("abcdefgh")
    assert third.stored_count() == 10
    third.close()


def test_index_hit_is_confirmed_in_the_items(tmp_path: Path) -> None:
    """A saturated filter and an index hit on a key whose item is gone: not a duplicate."""
    store = DuckDBStore(tmp_path, seen_filter_bytes=8192, index_run_keys=2)
    assert write(store, rows("old", "kept")) == set()
    store._con.execute("DELETE FROM item_feature WHERE id = 'old'")  # e.g. retention
    store.seen.words[:] = np.uint64(2**64 - 1)  # every key looks seen
    assert write(store, rows("old", "kept", "new")) == {"kept"}
    assert store.stored_count() == 3
    store.close()


def test_retention_drops_stale_runs(tmp_path: Path) -> None:
    """Once retention has deleted every item of a run's batches, the run is dropped; replays
    of what is still stored stay duplicates."""
    store = DuckDBStore(tmp_path, index_run_keys=2)
    write(store, rows("o1", "o2", ts=NOW - 40 * DAY))
    write(store, rows("n1", "n2", ts=NOW))
    assert len(store.index.runs) == 2
    assert store.maintain(NOW, 30 * DAY) == 2
    assert len(store.index.runs) == 1
    assert write(store, rows("o1", "n1", "n2")) == {"n1", "n2"}
    store.close()
