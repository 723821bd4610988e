"""The ClickHouse store on the real engine (chdb): tables, retention, secrets, cluster DDL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("chdb")

from tests.store.test_writer import rows
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
