"""The ClickHouse store on the real engine (chdb): tables, retention, secrets, cluster DDL."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("chdb")

from tests.store.test_writer import rows
from wasmwatch.errors import StoreError
from wasmwatch.ingest.columnar import Prepared
from wasmwatch.store.clickhouse import ClickHouseStore
from wasmwatch.store.cluster import cluster_ddl
from wasmwatch.store.url import parse_store_url

NOW = 1_764_000_000_000
DAY = 86_400_000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    url = parse_store_url(f"chdb://{tmp_path / 'chdb'}", tmp_path)
    opened = ClickHouseStore(url, tmp_path / "data", retention_days=0)
    yield opened
    opened.close()


def test_tables_are_partitioned_by_day_with_ttl(tmp_path: Path) -> None:
    """items: ReplacingMergeTree by day, sorted by project, type, ts, id, TTL at retention."""
    url = parse_store_url(f"chdb://{tmp_path / 'chdb'}", tmp_path)
    store = ClickHouseStore(url, tmp_path / "data", retention_days=30)
    try:
        ((create,),) = store._client.query("SHOW CREATE TABLE items").result_rows
    finally:
        store.close()
    assert "ReplacingMergeTree" in create
    assert "PARTITION BY toYYYYMMDD(fromUnixTimestamp64Milli(ts, 'UTC'))" in create
    assert "ORDER BY (project, type, ts, id)" in create
    assert "toIntervalDay(30)" in create and "LowCardinality(Nullable(String))" in create
    assert "DateTime64(3, 'UTC')" in create


def test_retention_deletes_old_items_and_rollups(store: ClickHouseStore) -> None:
    """maintain(now) deletes items and rollup buckets past the period, as the TTL would."""
    store.write(Prepared([rows("old", ts=NOW - 40 * DAY), rows("new", ts=NOW)]))
    assert store.stored_count() == 2
    assert store.maintain(NOW, 30 * DAY) == 1
    assert store.stored_count() == 1
    minute = store.query("SELECT count(*) AS n, min(t) AS t FROM rollup_minute")
    assert minute == [{"n": 1, "t": NOW}]


def test_replays_within_one_commit_and_across_commits(store: ClickHouseStore) -> None:
    """An id twice in one group, and again in a later group, is stored once."""
    first = store.write(Prepared([rows("a", "b", "a")]))
    assert first.duplicate.tolist() == [False, False, True]
    again = store.write(Prepared([rows("b", "c", project="default"), rows("b", project="other")]))
    assert again.duplicate.tolist() == [True, False, False]  # ids are per project
    assert store.stored_count() == 4
    odd = "it's,odd"  # not an ingest id (those have no comma or quote): the other lookup form
    assert store.write(Prepared([rows(odd)])).duplicate.tolist() == [False]
    assert store.write(Prepared([rows(odd, "d")])).duplicate.tolist() == [True, False]


def test_secrets_are_shared_first_writer_wins(store: ClickHouseStore, tmp_path: Path) -> None:
    """Every node gets the secret the first node stored."""
    first = store.secret("admin_token", None, "adm_")
    second = ClickHouseStore(store.url, tmp_path / "other", local_state=False)
    try:
        assert second.secret("admin_token", None, "adm_") == first
        assert second.secret("admin_token", "given", "adm_") == "given"
    finally:
        second.close()


def test_cluster_ddl_parses_on_the_engine(store: ClickHouseStore) -> None:
    """Every statement of the cluster layout is valid ClickHouse SQL (formatQuery parses it)."""
    statements = cluster_ddl("wasmwatch_cluster", "ww", 30)
    assert any("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/ww/items_local'" in s
               for s in statements)
    assert any("Distributed(wasmwatch_cluster, ww, items_local, cityHash64(project, id))" in s
               for s in statements)
    for statement in statements:
        store._client.query("SELECT formatQuery({q:String})", parameters={"q": statement})


def test_ttl_drops_old_days_when_parts_merge(tmp_path: Path) -> None:
    """The TTL itself (no maintain call) removes items and rollup rows past the retention
    (the engine judges by its own clock, so the times here are the real ones)."""
    url = parse_store_url(f"chdb://{tmp_path / 'chdb'}", tmp_path)
    store = ClickHouseStore(url, tmp_path / "data", retention_days=30)
    try:
        now = int(time.time() * 1000) // 60_000 * 60_000
        store.write(Prepared([rows("old", ts=now - 40 * DAY), rows("new", ts=now)]))
        for table in ("items", "rollup_minute"):
            store._client.command(f"OPTIMIZE TABLE {table} FINAL")
        assert store.query("SELECT id FROM items") == [{"id": "new"}]
        assert store.query("SELECT min(t) AS t FROM rollup_minute") == [{"t": now}]
    finally:
        store.close()


def test_time_is_the_item_ts_as_datetime64(store: ClickHouseStore) -> None:
    """The materialized ``time`` column is ``ts`` in ms as a DateTime64 in UTC."""
    store.write(Prepared([rows("a", ts=NOW + 123)]))
    ((ts, ms, zone),) = store._client.query(
        "SELECT ts, toUnixTimestamp64Milli(time), timezoneOf(time) FROM items").result_rows
    assert (ms, zone) == (ts, "UTC") and ts == NOW + 123


def test_a_raced_duplicate_counts_until_parts_merge(store: ClickHouseStore) -> None:
    """Two nodes inserting one id at once (no lookup between): ReplacingMergeTree keeps one
    row once its parts merge; reads without FINAL see both until then."""
    table = Prepared([rows("raced")]).rows(0)
    store._client.insert_arrow("items", table)
    store._client.insert_arrow("items", table)
    assert store.stored_count() == 2
    store._client.command("OPTIMIZE TABLE items FINAL")
    assert store.stored_count() == 1


def test_an_unreachable_server_is_a_store_error_naming_it(tmp_path: Path) -> None:
    """A clickhouse:// URL nothing listens on fails the start with the URL, password hidden."""
    with socket.socket() as sock:  # a loopback port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = parse_store_url(f"clickhouse://ww:hunter2@127.0.0.1:{port}/db", tmp_path)
    with pytest.raises(StoreError, match=f"127.0.0.1:{port}") as caught:
        ClickHouseStore(url, tmp_path / "data")
    assert "hunter2" not in str(caught.value)
