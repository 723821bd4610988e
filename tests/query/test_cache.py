"""The span cache: answers equal without it; late items, unaggregated rows, retention."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import KEY, NOW, envelope, item
from tests.query.conftest import HOUR, MINUTE, PROJECT, write
from tests.query.test_summary import _mixed
from wasmwatch.query import rollup
from wasmwatch.query.cache import SpanCache
from wasmwatch.query.overview import overview
from wasmwatch.query.series import series
from wasmwatch.runtime import Runtime
from wasmwatch.store import layout
from wasmwatch.store.schema import COLUMNS

DAY = 24 * HOUR
_ARROW = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(),
          "BOOLEAN": pa.bool_()}


def _flush(con: duckdb.DuckDBPyConnection, cache: SpanCache, rows: list[dict[str, Any]]) -> None:
    """Store ``rows`` and aggregate them the way the store's flush does, its hooks in order."""
    write(con, rows, batch_size=max(len(rows), 1), before_rollup=cache.record)


def same(a: Any, b: Any, path: str = "") -> None:
    """Equal answers; floats up to the order their sums were added in."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-12), (path, a, b)
    else:
        assert a == b, (path, a, b)


WINDOWS = [86_400, 3 * 86_400, 7 * 86_400]
FILTERS = [{}, {"release": "1.0.0"}, {"browser": "Firefox"}, {"operation": "save"}]
NOW_Q = 1_764_000_000_000 + 61 * MINUTE + 17_000  # both edges cut a bucket


@pytest.fixture
def mixed(con: duckdb.DuckDBPyConnection) -> tuple[duckdb.DuckDBPyConnection, SpanCache]:
    cache = SpanCache()
    rng = np.random.default_rng(5)
    for start in range(NOW_Q - 8 * DAY, NOW_Q + HOUR, DAY):
        _flush(con, cache, _mixed(rng, 700, start, min(start + DAY, NOW_Q + HOUR)))
    return con, cache


@pytest.mark.parametrize("window_s", WINDOWS)
@pytest.mark.parametrize("filters", FILTERS)
def test_answers_with_the_cache_equal_those_without(
        mixed: tuple[duckdb.DuckDBPyConnection, SpanCache], window_s: int,
        filters: dict[str, str]) -> None:
    """Cold, warm and after a minute more, a cached summary equals the uncached one."""
    con, cache = mixed
    for now in (NOW_Q, NOW_Q, NOW_Q + MINUTE + 3_000):
        args: dict[str, Any] = dict(project=PROJECT, window_s=window_s, now_ms=now,
                                    compare=True, **filters)
        same(overview(con, **args), overview(con, **args, cache=cache))
    assert cache.hits > 0


@pytest.mark.parametrize("metric", ["operation", "bundle_load", "errors"])
@pytest.mark.parametrize("step_s", [300, 900, 3600])
def test_series_with_the_cache_equal_those_without(
        mixed: tuple[duckdb.DuckDBPyConnection, SpanCache], metric: str, step_s: int) -> None:
    """Cold, warm and a minute later, cached series points equal the uncached ones, and a
    late operation changes the next points."""
    con, cache = mixed
    for now in (NOW_Q, NOW_Q, NOW_Q + MINUTE + 3_000):
        for filters in FILTERS:
            args: dict[str, Any] = dict(project=PROJECT, metric=metric, window_s=86_400,
                                        step_s=step_s, now_ms=now, **filters)
            same(series(con, **args), series(con, **args, cache=cache))
    args = dict(project=PROJECT, metric=metric, window_s=86_400, step_s=step_s, now_ms=NOW_Q)
    before = series(con, **args, cache=cache)
    _flush(con, cache, [{"id": "late-op", "project": PROJECT, "type": "operation",
                         "ts": NOW_Q - 5 * HOUR, "client_ts": NOW_Q, "received": NOW_Q,
                         "release": "1.0.0", "browser": "Chrome", "name": "save", "ms": 3.0,
                         "ok": True, "offline": False}])
    after = series(con, **args, cache=cache)
    same(after, series(con, **args))
    if metric != "bundle_load":
        assert after != before
    assert (cache.hits > 0) is (metric != "errors")  # the latency metrics read the cache


def test_a_late_item_in_a_cached_bucket_is_counted(
        mixed: tuple[duckdb.DuckDBPyConnection, SpanCache]) -> None:
    """An item dated inside a cached hour changes the next answer, before and after the
    flush that aggregates it (read raw, then from the rollup: counted once)."""
    con, cache = mixed
    args: dict[str, Any] = dict(project=PROJECT, window_s=86_400, now_ms=NOW_Q)
    before = overview(con, **args, cache=cache)
    assert overview(con, **args, cache=cache) == before and cache.hits > 0
    late = {"id": "late-1", "project": PROJECT, "type": "operation", "ts": NOW_Q - 5 * HOUR,
            "client_ts": NOW_Q - 5 * HOUR, "received": NOW_Q, "release": "1.0.0",
            "browser": "Chrome", "name": "render", "ms": 1.0, "ok": True, "offline": False}
    table = pa.table({name: pa.array([late.get(name)], type=_ARROW[sql])
                      for name, sql in COLUMNS.items()})
    con.register("incoming", table)
    layout.load_wide(con, "incoming")  # committed, not yet aggregated
    con.unregister("incoming")
    staged = overview(con, **args, cache=cache)
    count = before["operations"]["render"]["count"]
    assert staged["operations"]["render"]["count"] == count + 1
    same(staged, overview(con, **args))
    con.execute("BEGIN TRANSACTION")
    con.execute("CREATE OR REPLACE TEMP TABLE batch AS SELECT * FROM items WHERE id = 'late-1'")
    cache.record(con, "batch")
    rollup.apply(con, "batch")
    con.execute("COMMIT")
    after = overview(con, **args, cache=cache)
    assert after["operations"]["render"]["count"] == count + 1
    same(after, overview(con, **args))


def test_an_entry_is_used_only_across_flushes_it_can_check() -> None:
    """Made at one watermark, an entry answers another only if every flush in between is
    recorded and none added items to its hours."""
    key = ("what", 10 * HOUR, 14 * HOUR)
    cache = SpanCache()
    cache.put(key, 5, "rows", 1)
    assert cache.get(key, 5) == "rows"
    assert cache.get(key, 7) is None  # flushes 5 -> 7 unknown
    cache.flushed(5, 6, [20])  # hour 20: outside the entry
    cache.flushed(6, 7, [9])
    assert cache.get(key, 7) == "rows" and cache.get(key, 6) == "rows"
    cache.flushed(7, 9, [9, 13])  # hour 13: inside
    assert cache.get(key, 9) is None and cache.get(key, 7) == "rows"
    cache.put(key, 9, "new rows", 1)
    assert cache.get(key, 9) == "new rows" and cache.get(key, 6) is None
    cache.flushed(12, 13, [1])  # batches 10-12 were never recorded: a gap
    assert cache.get(key, 13) is None


def test_retention_drops_the_spans_before_its_cutoff() -> None:
    """Spans starting before the retention cutoff are dropped and not kept again."""
    cache = SpanCache()
    old, kept = ("what", 0, HOUR), ("what", 2 * HOUR, 3 * HOUR)
    cache.put(old, 1, "a", 1)
    cache.put(kept, 1, "b", 1)
    cache.forget_before(HOUR)
    cache.put(old, 1, "a", 1)
    assert cache.get(old, 1) is None and cache.get(kept, 1) == "b"


def test_rows_held_stay_within_the_bound() -> None:
    """The least recently used entries go once the rows held pass ``max_rows``."""
    cache = SpanCache(max_rows=10)
    for i in range(5):
        cache.put(("what", i, i + 1), 1, i, 4)
    assert [cache.get(("what", i, i + 1), 1) for i in range(5)] == [None, None, None, 3, 4]


async def _summary(client: httpx.AsyncClient, admin: dict[str, str],
                   **params: str) -> dict[str, Any]:
    r = await client.get("/api/v1/summary", params={"window": "24h", **params}, headers=admin)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_late_item_changes_the_next_answer_through_the_api(
        client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime) -> None:
    """Over HTTP on a real store: the second 24 h summary comes from the cache, and an item
    dated in a cached hour, sent late, is counted in the next one, as a raw scan counts it."""
    assert runtime.store is not None and runtime.span_cache is not None
    ops = [item(name="render", ms=float(10 + k), ts=NOW - k * 1_700_000) for k in range(1, 48)]
    r = await client.post(f"/api/v1/ingest?key={KEY}", json=envelope(ops))
    assert r.status_code == 200 and r.json()["accepted"] == len(ops)
    await runtime.writer.run_exclusive(runtime.store.flush, True)
    first = await _summary(client, admin)
    hits = runtime.span_cache.hits
    assert await _summary(client, admin) == first and runtime.span_cache.hits > hits
    late = [item(name="render", ms=99.0, ts=NOW - 7 * HOUR - 5 * MINUTE)]
    r = await client.post(f"/api/v1/ingest?key={KEY}", json=envelope(late))
    assert r.status_code == 200 and r.json()["accepted"] == 1
    await runtime.writer.run_exclusive(runtime.store.flush, True)
    after = await _summary(client, admin)
    exact = await _summary(client, admin, exact="true")
    assert first["operations"]["render"]["count"] == len(ops)
    assert after["operations"]["render"]["count"] == len(ops) + 1
    assert exact["operations"]["render"]["count"] == len(ops) + 1
