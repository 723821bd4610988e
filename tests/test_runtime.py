"""The runtime's background jobs, driven with a manual clock."""

from __future__ import annotations

import httpx

from tests.conftest import KEY, NOW, envelope, item
from wasmwatch.clock import ManualClock
from wasmwatch.runtime import Runtime

DAY = 86_400_000


async def test_retention_deletes_raw_items_past_the_period(
    client: httpx.AsyncClient, runtime: Runtime, clock: ManualClock
) -> None:
    """After 30 days, retention deletes the raw items and their rollup rows."""
    r = await client.post(f"/api/v1/ingest?key={KEY}", json=envelope([item(ts=NOW - 1000)]))
    assert r.json()["accepted"] == 1
    await client.post(f"/api/v1/ingest?key={KEY}", json=envelope([item(ts=NOW - 500)]))
    assert runtime.store is not None
    await runtime.writer.run_exclusive(runtime.store.flush, True)
    assert runtime.store.query("SELECT count(*) AS n FROM rollup_minute") != [{"n": 0}]
    clock.advance(10 * DAY)
    assert await runtime.retain() == 0
    clock.advance(21 * DAY)
    assert await runtime.retain() == 2
    assert runtime.store.query("SELECT count(*) AS n FROM items") == [{"n": 0}]
    assert runtime.store.query("SELECT count(*) AS n FROM rollup_minute") == [{"n": 0}]


async def test_summary_reads_rollups_after_flush(
    client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    """A 24 h window is answered from rollups once they are aggregated, and says so."""
    await client.post(f"/api/v1/ingest?key={KEY}",
                      json=envelope([item(ms=float(v), ts=NOW - 3 * 3_600_000) for v in range(1, 101)]))
    assert runtime.store is not None
    await runtime.writer.run_exclusive(runtime.store.flush, True)
    body = (await client.get("/api/v1/summary?window=24h", headers=admin)).json()
    assert body["approximate"] is True and body["relative_error"] == 0.01
    op = body["operations"]["render"]
    assert op["count"] == 100
    assert abs(op["p50_ms"] - 50.5) / 50.5 <= 0.01


async def test_summary_counts_items_not_yet_aggregated_and_not_future_ones(
    client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str], clock: ManualClock
) -> None:
    """Before any flush a 24 h rollup answer already counts new items; future ones wait."""
    await client.post(f"/api/v1/ingest?key={KEY}", json=envelope(
        [item(ms=5.0, ts=NOW - 3_600_000 * 5) for _ in range(7)]
        + [item(ms=5.0, ts=NOW + 3_600_000) for _ in range(3)]))
    body = (await client.get("/api/v1/summary?window=24h", headers=admin)).json()
    assert body["source"] == "rollup" and body["to_ms"] == clock.now_ms()
    assert body["operations"]["render"]["count"] == 7
    clock.advance(3_600_000 + 1)
    assert runtime.store is not None
    await runtime.writer.run_exclusive(runtime.store.flush, True)
    body = (await client.get("/api/v1/summary?window=24h", headers=admin)).json()
    assert body["operations"]["render"]["count"] == 10
