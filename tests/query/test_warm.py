"""The span cache warmed at start: the long windows' first answers read it, and stay exact."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import KEY, NOW, TOKEN, envelope, item, settings_for
from tests.query.conftest import HOUR, MINUTE
from wasmwatch.clock import ManualClock
from wasmwatch.query.overview import overview
from wasmwatch.runtime import Runtime
from wasmwatch.web.app import App

DAY = 24 * HOUR
ADMIN = {"authorization": f"Bearer {TOKEN}"}
WINDOWS = ("24h", "7d", "30d")


def _items() -> list[dict[str, Any]]:
    """Operations, loads and errors over the last 20 days, the newest 5 s after NOW."""
    out = []
    for k in range(400):
        ts = NOW + 5_000 - k * 71 * MINUTE - k % 7 * 1_000
        out.append(item(name=("render", "save")[k % 2], ms=float(5 + k % 90), ts=ts))
        if k % 3 == 0:
            out.append(item("bundle_load", total_ms=float(200 + k), ts=ts - 3_000,
                            cached=k % 2 == 0))
        if k % 11 == 0:
            out.append(item("error", ts=ts - 1_000, message=f"boom {k % 4}"))
    return out


async def _store(data: Path, clock: ManualClock, items: list[dict[str, Any]]) -> None:
    rt = Runtime(settings_for(data), clock=clock)
    await rt.start()
    try:
        transport = httpx.ASGITransport(app=App(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for lo in range(0, len(items), 200):
                r = await client.post(f"/api/v1/ingest?key={KEY}",
                                      json=envelope(items[lo:lo + 200]))
                assert r.status_code == 200 and r.json()["accepted"] == len(items[lo:lo + 200])
        assert rt.store is not None
        await rt.writer.run_exclusive(rt.store.flush, True)
    finally:
        await rt.stop()


def _task(rt: Runtime, name: str) -> asyncio.Task[None]:
    (task,) = [t for t in rt._tasks if t.get_name() == name]
    return task


async def test_first_answers_after_a_start_read_the_warmed_cache(tmp_path: Path) -> None:
    """A restarted server warms the 24 h, 7 d and 30 d summaries; their first requests over
    HTTP then read only the cache (no miss), equal the uncached answers, and count what a raw
    scan counts; a late item in a warmed hour is counted in the next answer."""
    data = tmp_path / "data"
    clock = ManualClock(NOW)
    await _store(data, clock, _items())
    clock.advance(17_000)  # the newest item's minute, as a dashboard's now after a restart
    rt = Runtime(settings_for(data), clock=clock)
    await rt.start()
    try:
        await asyncio.wait_for(_task(rt, "warm"), 30)
        cache, store = rt.span_cache, rt.store
        assert cache is not None and store is not None and cache.rows > 0
        misses, hits = cache.misses, cache.hits
        transport = httpx.ASGITransport(app=App(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            async def get(window: str, **params: str) -> dict[str, Any]:
                r = await client.get("/api/v1/summary", params={"window": window, **params},
                                     headers=ADMIN)
                assert r.status_code == 200, r.text
                body: dict[str, Any] = r.json()
                body.pop("budgets")
                return body

            first = {w: await get(w) for w in WINDOWS}
            assert cache.misses == misses and cache.hits >= hits + len(WINDOWS)
            for w, answer in first.items():
                assert answer["source"] == "rollup" and answer["to_ms"] == NOW + 17_000
                uncached = await asyncio.to_thread(lambda a=answer: overview(
                    store.reader(), project="default", window_s=a["window_s"],
                    now_ms=a["to_ms"]))
                assert answer == uncached, w
                exact = await get(w, exact="true")
                assert answer["events"] == exact["events"], w
            assert sum(first["30d"]["events"].values()) == len(_items())

            late = [item(name="render", ms=77.0, ts=NOW - 5 * HOUR - 3 * MINUTE)]
            r = await client.post(f"/api/v1/ingest?key={KEY}", json=envelope(late))
            assert r.status_code == 200 and r.json()["accepted"] == 1
            await rt.writer.run_exclusive(store.flush, True)
            for w in WINDOWS:
                after = await get(w)
                assert after["events"]["operation"] == first[w]["events"]["operation"] + 1, w
                assert after["events"] == (await get(w, exact="true"))["events"], w
    finally:
        await rt.stop()


@pytest.mark.parametrize("before_items", [True, False])
async def test_warming_stops_with_the_server_and_skips_an_empty_store(
        tmp_path: Path, before_items: bool) -> None:
    """Stopping right after the start (the warmer may be mid-summary) is a clean stop; with
    no rollup rows up to now (the clock before every item) nothing is warmed."""
    data = tmp_path / "data"
    clock = ManualClock(NOW)
    await _store(data, clock, _items()[:50])
    clock.advance(-10 * DAY if before_items else 17_000)
    rt = Runtime(settings_for(data), clock=clock)
    await rt.start()
    if before_items:
        await asyncio.wait_for(_task(rt, "warm"), 30)
        assert rt.span_cache is not None and rt.span_cache.rows == 0
    assert await rt.stop() == []
