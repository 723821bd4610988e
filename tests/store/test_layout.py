"""The stored layout: narrow per-type tables, exact idempotency, the upgrade of a v1 data dir."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import numpy as np

from tests.conftest import settings_for
from tests.store.test_writer import NOW, context, rows, write
from wasmwatch.clock import ManualClock
from wasmwatch.ingest import schema as s
from wasmwatch.ingest.columnar import Chunk
from wasmwatch.query import summary
from wasmwatch.runtime import Runtime
from wasmwatch.store import layout
from wasmwatch.store.duckdb import DuckDBStore
from wasmwatch.store.seen import SeenFilter

HOUR = 3_600_000
V1 = Path(__file__).parent / "data" / "v1.duckdb.gz"


def test_replay_with_another_ts_is_stored_once(tmp_path: Path) -> None:
    """An id is stored once per project whatever its ts says."""
    store = DuckDBStore(tmp_path)
    assert write(store, rows("replay-1", ts=NOW)) == set()
    assert write(store, rows("replay-1", ts=NOW - 2 * HOUR)) == {"replay-1"}
    assert store.query("SELECT id, ts FROM items") == [{"id": "replay-1", "ts": NOW}]
    store.close()


def test_replay_after_reopen_and_crash_is_stored_once(tmp_path: Path) -> None:
    """The seen filter is rebuilt on open: a replay after a reopen, or a crash, is caught."""
    store = DuckDBStore(tmp_path)
    write(store, rows("a", "b", ts=NOW))
    store.close()
    again = DuckDBStore(tmp_path)
    assert write(again, rows("a", ts=NOW - HOUR), rows("c")) == {"a"}
    again._con.close()  # a crash: no clean close
    third = DuckDBStore(tmp_path)
    assert write(third, rows("b", "c", "d", ts=NOW - 5 * HOUR)) == {"b", "c"}
    assert third.stored_count() == 4
    third.close()


def test_same_id_in_two_projects_is_two_items(tmp_path: Path) -> None:
    """Idempotency is per project."""
    store = DuckDBStore(tmp_path)
    assert write(store, rows("x", project="p1"), rows("x", project="p2")) == set()
    assert write(store, rows("x", project="p2")) == {"x"}
    assert store.query("SELECT project FROM items ORDER BY project") == [
        {"project": "p1"}, {"project": "p2"}]
    store.close()


def test_maybe_from_the_filter_is_confirmed(tmp_path: Path) -> None:
    """With a saturated filter every key is "maybe"; the lookup keeps the answer exact."""
    store = DuckDBStore(tmp_path, seen_filter_bytes=8192)
    store.seen.words[:] = np.uint64(2**64 - 1)  # every key now looks seen
    assert write(store, rows("n1", "n2")) == set()
    assert write(store, rows("n2", "n3")) == {"n2"}
    assert store.stored_count() == 3
    store.close()


def test_seen_filter_has_no_false_negatives() -> None:
    """Every added key is "maybe"; most others are "surely new"."""
    seen = SeenFilter(1 << 20)
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 2**63, 100_000, dtype=np.uint64)
    seen.add(keys)
    assert seen.maybe(keys).all()
    others = rng.integers(0, 2**63, 100_000, dtype=np.uint64)
    assert seen.maybe(others).mean() < 0.01


def test_context_is_stored_once_per_batch(tmp_path: Path) -> None:
    """Items of a batch share one batches row; each type lands in its own narrow table."""
    store = DuckDBStore(tmp_path)
    items = [s.Feature(id="f1", ts=float(NOW), name="x"), s.RuntimeInit(id="r1", ts=float(NOW), ms=5.0),
             s.Feature(id="f2", ts=float(NOW), name="y")]
    write(store, Chunk(context(), items, 10))
    assert store.query("SELECT count(*) AS n FROM batches") == [{"n": 1}]
    assert store.query("SELECT count(*) AS n FROM item_feature") == [{"n": 2}]
    assert store.query("SELECT id, ms, session, browser FROM items WHERE type = 'runtime_init'") == [
        {"id": "r1", "ms": 5.0, "session": "s1", "browser": "Chrome"}]
    store.close()


def _v1_dir(tmp_path: Path) -> Path:
    """A data dir written by wasmwatch at 2e0b87d (see data/make_v1.py)."""
    data = tmp_path / "data"
    data.mkdir()
    with gzip.open(V1) as src, open(data / "wasmwatch.duckdb", "wb") as dst:
        shutil.copyfileobj(src, dst)
    return data


def test_v1_data_dir_is_upgraded(tmp_path: Path) -> None:
    """A v1 file (one wide items table) is moved into the layout with every row and value."""
    data = _v1_dir(tmp_path)
    old = duckdb.connect(str(data / "wasmwatch.duckdb"))
    before = old.execute("SELECT * FROM items ORDER BY id").fetchall()
    names = [d[0] for d in old.description]
    old.close()
    store = DuckDBStore(data)
    assert store.upgraded
    after = store.query(f"SELECT {', '.join(names)} FROM items ORDER BY id")
    assert [tuple(r.values()) for r in after] == before
    assert store.query("SELECT value FROM meta WHERE key = 'schema_version'") == [
        {"value": str(layout.LAYOUT_VERSION)}]
    assert write(store, rows("v1-feature", ts=NOW - 3 * HOUR)) == {"v1-feature"}  # seen after upgrade
    store.close()
    again = DuckDBStore(data)
    assert not again.upgraded
    assert again.stored_count() == len(before)
    again.close()


async def test_v1_upgrade_keeps_rollup_answers_exact(tmp_path: Path) -> None:
    """After the upgrade the old rollup holds the old rows once: 24 h rollup = raw answer."""
    now = NOW + 61_234
    rt = Runtime(settings_for(_v1_dir(tmp_path)), clock=ManualClock(now))
    await rt.start()
    try:
        assert rt.store is not None
        con = rt.store.reader()
        approx = summary(con, project="default", window_s=86_400, now_ms=now)
        exact = summary(con, project="default", window_s=86_400, now_ms=now, exact=True)
    finally:
        await rt.stop()
    assert approx["source"] == "rollup" and sum(approx["events"].values()) == 29
    assert approx["events"] == exact["events"] and approx["errors"] == exact["errors"]
    ops = {k: v["count"] for k, v in approx["operations"].items()}
    assert ops == {k: v["count"] for k, v in exact["operations"].items()}


def test_v2_dir_from_before_the_server_items_gets_their_columns(tmp_path: Path) -> None:
    """A v2 file made before ``batches.service`` and ``item_operation.trace_id`` is opened, the
    columns are added last, and new items (with and without them) append by position."""
    data = tmp_path / "data"
    data.mkdir()
    old = duckdb.connect(str(data / "wasmwatch.duckdb"))
    for ddl in layout.tables():
        old.execute(ddl)
    old.execute("ALTER TABLE batches DROP COLUMN service")
    old.execute("ALTER TABLE item_operation DROP COLUMN trace_id")
    for type_, carried in layout.CARRIED.items():  # and before layout version 3
        for column in carried:
            old.execute(f"ALTER TABLE {layout.table_of(type_)} DROP COLUMN {column}")
    old.close()
    store = DuckDBStore(data)
    ctx = context(service="api")
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    items: list[s.Item] = [s.Operation(id="o1", ts=float(NOW), name="save", ms=5.0, trace_id=trace),
                           s.Feature(id="f1", ts=float(NOW), name="x")]
    write(store, Chunk(ctx, items, 10))
    assert store.query("SELECT id, trace_id, service FROM items ORDER BY id") == [
        {"id": "f1", "trace_id": None, "service": "api"},
        {"id": "o1", "trace_id": trace, "service": "api"}]
    store.close()


V2 = Path(__file__).parent / "data" / "v2.duckdb.gz"


def test_v2_data_dir_gets_the_carried_context(tmp_path: Path) -> None:
    """A v2 file (written at 97b3e78, see data/make_v2.py): at open every item row gets its
    batch's project, release, browser (and page, session, os where carried), the answers stay
    the same, and new items append by position after it."""
    data = tmp_path / "data"
    data.mkdir()
    with gzip.open(V2) as src, open(data / "wasmwatch.duckdb", "wb") as dst:
        shutil.copyfileobj(src, dst)
    old = duckdb.connect(str(data / "wasmwatch.duckdb"))
    assert "release" not in {r[0] for r in old.execute("DESCRIBE item_error").fetchall()}
    before = old.execute("SELECT * FROM items ORDER BY id").fetchall()
    old.close()
    store = DuckDBStore(data)
    assert store.upgraded
    assert [tuple(r.values()) for r in store.query("SELECT * FROM items ORDER BY id")] == before
    con = store.reader()
    for type_, carried in layout.CARRIED.items():
        cols = ", ".join(carried)
        mismatched = con.execute(
            f"SELECT count(*) FROM {layout.table_of(type_)} e JOIN batches b USING (batch) "
            f"WHERE ({', '.join(f'e.{c}' for c in carried)}) IS DISTINCT FROM "
            f"({', '.join(f'b.{c}' for c in carried)})").fetchall()
        assert mismatched == [(0,)], (type_, cols)
    browsers = con.execute("SELECT DISTINCT release, browser FROM item_operation ORDER BY 1").fetchall()
    assert browsers == [("0.9.0", "Chrome"), ("1.0.0", "Firefox")]
    assert con.execute("SELECT session, os FROM item_error ORDER BY session").fetchall() == [
        ("s1", "Linux"), ("s2", "Linux")]
    assert store.query("SELECT value FROM meta WHERE key = 'schema_version'") == [{"value": "3"}]
    assert write(store, rows("v3-feature", ts=NOW - 3 * HOUR)) == set()  # new: stored
    assert con.execute("SELECT project FROM item_feature WHERE id = 'v3-feature'").fetchall() == [
        ("default",)]
    store.close()
    again = DuckDBStore(data)
    assert not again.upgraded
    again.close()
