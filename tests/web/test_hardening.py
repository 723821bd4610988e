"""Hostile input over in-process HTTP: deep JSON, bounded lost reports, every loss counted,
refusals logged at INFO (rate-limited), 405 with Allow, empty batches refused."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import KEY, envelope, item, settings_for
from tests.telemetry.helpers import sample, scrape
from wasmwatch.clock import ManualClock
from wasmwatch.runtime import Runtime
from wasmwatch.web import ingest
from wasmwatch.web.app import App

URL = f"/api/v1/ingest?key={KEY}"
Make = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def make(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Make]:
    """Start a runtime with setting overrides and give an in-process client to it."""
    runtimes: list[Runtime] = []
    clients: list[httpx.AsyncClient] = []

    async def start(**overrides: Any) -> httpx.AsyncClient:
        rt = Runtime(settings_for(tmp_path / f"data{len(runtimes)}", **overrides), clock=clock)
        await rt.start()
        runtimes.append(rt)
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=App(rt)), base_url="http://t")
        c.runtime = rt  # type: ignore[attr-defined]
        clients.append(c)
        return c

    yield start
    for c in clients:
        await c.aclose()
    for rt in runtimes:
        await rt.stop()


def lost(rt: Runtime, reason: str) -> float:
    return sample(scrape(rt.registry), "wasmwatch_items_lost_total", reason=reason)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [985, 100_000])
@pytest.mark.parametrize("where", ["tags", "context", "unknown", "item_unknown"])
async def test_deep_json_in_a_batch_is_never_a_500(client: httpx.AsyncClient, where: str,
                                                   depth: int) -> None:
    """JSON nested deep anywhere in a batch gets a 200 or a 400 naming the nesting."""
    deep = nested(depth)
    one = item("measurement")
    if where == "tags":
        one["tags"] = "TAGS"
    elif where == "item_unknown":
        one["extra"] = "TAGS"
    body = envelope([one])
    if where == "context":
        body["context"]["x"] = "TAGS"
    elif where == "unknown":
        body["whatever"] = "TAGS"
    text = json.dumps(body).replace('"TAGS"', deep)
    r = await client.post(URL, content=text)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert "nested too deeply" in r.json()["error"] or "tags" in r.json()["error"]
    elif depth > 10_000:
        assert r.json()["rejected"], r.text


@pytest.mark.parametrize("path", ["/api/telemetry/wasm", "/api/telemetry/wasm/bulk"])
async def test_deep_json_on_seed_endpoints_is_a_400(client: httpx.AsyncClient, path: str) -> None:
    """The seed endpoints answer deep JSON with a 400 naming the nesting, never a 500."""
    metric = '{"type": "operation", "data": {"timestamp": 1, "duration": 1, "x": ' + nested(100_000) + "}}"
    body = metric if path.endswith("wasm") else '{"metrics": [' + metric + "]}"
    r = await client.post(f"{path}?key={KEY}", content=body)
    assert r.status_code == 400, r.text
    assert "nested too deeply" in r.json()["error"]


async def test_client_lost_values_and_reasons_are_bounded(client: httpx.AsyncClient,
                                                          runtime: Runtime) -> None:
    """A client cannot push the lost counter to 1e20 nor invent reason labels."""
    body = envelope([item()])
    body["lost"] = {"queue_full": 1e20, "x 4111 1111 1111 1111": 5, "invalid": -3, "rate_limited": 2.9}
    assert (await client.post(URL, content=json.dumps(body))).status_code == 200
    samples = scrape(runtime.registry)
    assert sample(samples, "wasmwatch_client_items_lost_total", reason="queue_full") == ingest.MAX_CLIENT_LOST
    assert sample(samples, "wasmwatch_client_items_lost_total", reason="other") == 5
    assert sample(samples, "wasmwatch_client_items_lost_total", reason="rate_limited") == 2
    assert not [k for k in samples if k[0] == "wasmwatch_client_items_lost_total"
                and dict(k[1])["reason"] not in ("queue_full", "other", "rate_limited")]


async def test_empty_items_is_a_400(client: httpx.AsyncClient) -> None:
    """A batch must hold 1 to 1000 items; none is a 400 naming the field."""
    r = await client.post(URL, content=json.dumps(envelope([])))
    assert r.status_code == 400 and "items" in r.json()["error"]


async def test_405_carries_allow(client: httpx.AsyncClient) -> None:
    """A wrong method answers 405 with the Allow header listing the right ones."""
    r = await client.get(URL)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    r = await client.delete("/metrics")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


async def test_unknown_method_is_not_a_metrics_label(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """A made-up HTTP method is reported as method="other" on /metrics."""
    await client.request("X4111111111111111", "/healthz")
    text = (await client.get("/metrics")).text
    assert "4111111111111111" not in text and 'method="other"' in text


async def test_every_refusal_counts_as_lost(make: Make) -> None:
    """401, 403, 413, 415, 400 and 503 answers each count under their reason."""
    c = await make(allowed_origins=["https://app.example"], max_body_bytes=2000, queue_max_items=2)
    rt: Runtime = c.runtime  # type: ignore[attr-defined]
    body = json.dumps(envelope([item()]))
    assert (await c.post("/api/v1/ingest?key=nope", content=body)).status_code == 401
    assert (await c.post("/api/telemetry/wasm", content="{}")).status_code == 401
    assert (await c.post(URL, content=body, headers={"origin": "https://evil.example"})).status_code == 403
    assert lost(rt, "unauthorized") == 3
    assert (await c.post(URL, content="x" * 3000)).status_code == 413
    assert (await c.post("/api/telemetry/wasm/bulk?key=" + KEY, content="x" * 3000)).status_code == 413
    assert lost(rt, "too_large") == 2
    assert (await c.post(URL, content=body, headers={"content-type": "image/png"})).status_code == 415
    assert (await c.post(URL, content="{")).status_code == 400
    assert lost(rt, "malformed") == 2
    three = json.dumps(envelope([item(), item(), item()]))
    assert (await c.post(URL, content=three)).status_code == 503
    assert lost(rt, "queue_full") == 3


async def test_rate_limited_counts_items(make: Make) -> None:
    """A 429 counts every item of the refused batch as rate_limited."""
    c = await make(rate_limit=1.0)
    rt: Runtime = c.runtime  # type: ignore[attr-defined]
    statuses = [(await c.post(URL, content=json.dumps(envelope([item(), item()])))).status_code
                for _ in range(3)]
    assert 429 in statuses
    assert lost(rt, "rate_limited") == 2 * statuses.count(429)


async def test_refusals_are_logged_at_info_without_secrets(client: httpx.AsyncClient,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """A 401, a 403-like refusal and rejected items each log one INFO line naming the route and
    reason, never the key or the client's PII."""
    caplog.set_level(logging.INFO, logger="wasmwatch.web.ingest")
    await client.post("/api/v1/ingest?key=pk_secret_wrong_key", content="{}")
    bad = item("operation", ms="x")
    bad["type"] = "bob@example.com"
    await client.post(URL, content=json.dumps(envelope([item(), bad])))
    records = [r for r in caplog.records if r.name == "wasmwatch.web.ingest"]
    assert [(r.levelno, r.reason) for r in records] == [  # type: ignore[attr-defined]
        (logging.INFO, "unauthorized"), (logging.INFO, "invalid")]
    assert all(r.route == "/api/v1/ingest" for r in records)  # type: ignore[attr-defined]
    assert records[1].project == "default"  # type: ignore[attr-defined]
    text = " ".join(r.getMessage() for r in records)
    assert "pk_secret_wrong_key" not in text and "bob@example.com" not in text
    assert "401" in text and "1 of 2 items rejected" in text


async def test_refusal_logs_are_rate_limited(client: httpx.AsyncClient, clock: ManualClock,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """A flood of 401s logs a few lines a second; the next second says how many were held back."""
    caplog.set_level(logging.INFO, logger="wasmwatch.web.ingest")
    ingest._log_limits.clear()
    for _ in range(50):
        await client.post("/api/v1/ingest?key=nope", content="{}")
    assert len(caplog.records) == ingest.LOG_PER_SECOND
    clock.advance(1000)
    await client.post("/api/v1/ingest?key=nope", content="{}")
    assert caplog.records[-1].suppressed == 50 - ingest.LOG_PER_SECOND  # type: ignore[attr-defined]


async def test_git_commit_release_is_kept_and_pii_release_scrubbed(client: httpx.AsyncClient,
                                                                  admin: dict[str, str]) -> None:
    """A release that is a 40-hex git commit is stored as is; a release holding PII is scrubbed."""
    sha = "3f9a1c0d2e4b5a69788766554433221100ffeedd"
    for release in (sha, "build-by-jane@example.com"):
        r = await client.post(f"/api/v1/ingest?key={KEY}", json=envelope([item()], release=release))
        assert r.status_code == 200, r.text
    r = await client.get("/api/v1/items?type=operation&limit=10", headers=admin)
    releases = {row["release"] for row in r.json()["items"]}
    assert releases == {sha, "[email]"}


async def test_a_body_the_queue_cannot_hold_is_refused_before_it_is_checked(make: Make) -> None:
    """While a commit holds the queue, a body it has no room for is a 503 counting its items
    as queue_full (not invalid: refused before any check); the held request is then stored."""
    import asyncio
    import threading

    c = await make(queue_max_mb=1, max_body_bytes=4 << 20)
    rt: Runtime = c.runtime  # type: ignore[attr-defined]
    gate = threading.Event()
    blocked = asyncio.ensure_future(rt.writer.run_exclusive(gate.wait, 10))
    first = asyncio.ensure_future(c.post(URL, content=json.dumps(envelope([item()]))))
    for _ in range(200):  # until the first request waits in the queue
        if rt.writer.queued_bytes:
            break
        await asyncio.sleep(0.005)
    assert rt.writer.queued_bytes
    big = [item(name="x" * 60_000) for _ in range(18)] + [item(name=None)]  # the last is invalid
    refused = await c.post(URL, content=json.dumps(envelope(big)))
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert lost(rt, "queue_full") == 19 and lost(rt, "invalid") == 0
    gate.set()
    await blocked
    assert (await first).status_code == 200


async def test_a_body_waits_for_room_and_is_stored_when_the_commit_frees_it(make: Make) -> None:
    """A body that does not fit a full queue waits (up to queue_wait_s) instead of its 503:
    when the commit that holds the queue ends within that time, it is stored; while it waits,
    another body beyond what may wait (half the queue's bound) is refused at once."""
    import asyncio
    import threading
    import time

    c = await make(queue_max_mb=1, max_body_bytes=4 << 20, queue_wait_s=5.0)
    rt: Runtime = c.runtime  # type: ignore[attr-defined]
    gate = threading.Event()
    blocked = asyncio.ensure_future(rt.writer.run_exclusive(gate.wait, 10))
    held = [item(name="z" * 60_000) for _ in range(10)]  # ~600 kB of the 1 MiB queue
    first = asyncio.ensure_future(c.post(URL, content=json.dumps(envelope(held))))
    for _ in range(200):  # until the first request waits in the queue
        if rt.writer.queued_bytes:
            break
        await asyncio.sleep(0.005)
    big = [item(name="x" * 60_000) for _ in range(8)]  # does not fit beside it: waits
    waiting = asyncio.ensure_future(c.post(URL, content=json.dumps(envelope(big))))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # waiting for room, not refused
    bigger = [item(name="y" * 60_000) for _ in range(8)]  # the waiting bodies' half is full
    started = time.monotonic()
    refused = await c.post(URL, content=json.dumps(envelope(bigger)))
    assert refused.status_code == 503 and time.monotonic() - started < 2.0  # over what may wait
    gate.set()
    await blocked
    assert (await first).status_code == 200
    stored = await waiting
    assert stored.status_code == 200 and stored.json()["accepted"] == 8, stored.text
    assert lost(rt, "queue_full") == 8


@pytest.mark.parametrize("path", [URL, f"/api/telemetry/wasm/bulk?key={KEY}"])
async def test_a_queued_request_holds_its_items_not_its_body(make: Make, path: str) -> None:
    """While a request waits for its commit, its body is let go (the queue's byte bound counts
    the decoded items, writer.held_for): a gzip body of 2 MB of JSON that decodes to one item
    leaves no block of that size while it waits, and the item is stored after."""
    import asyncio
    import gzip
    import threading
    import tracemalloc

    c = await make(max_body_bytes=4 << 20)
    rt: Runtime = c.runtime  # type: ignore[attr-defined]
    if path == URL:
        text = json.dumps(envelope([item()]))
    else:
        text = json.dumps({"metrics": [{"type": "operation", "data": {
            "timestamp": rt.clock.now_ms(), "duration": 5.0, "operation": "render"}}]})
    padded = text[:-1] + " " * (2 << 20) + text[-1]  # whitespace: 2 MB of body, no more items
    gate = threading.Event()
    blocked = asyncio.ensure_future(rt.writer.run_exclusive(gate.wait, 10))
    tracemalloc.start(8)
    try:
        sent = asyncio.ensure_future(c.post(path, content=gzip.compress(padded.encode()),
                                            headers={"content-encoding": "gzip"}))
        for _ in range(400):  # until the request waits in the queue
            if rt.writer.queued_bytes:
                break
            await asyncio.sleep(0.005)
        assert rt.writer.queued_bytes, sent.done() and sent.result().text
        big = [stat for stat in tracemalloc.take_snapshot().statistics("traceback")
               if stat.size >= 1 << 20]
    finally:
        tracemalloc.stop()
        gate.set()
    await blocked
    answer = await sent
    assert answer.status_code == 200, answer.text
    assert not big, [stat.traceback.format() for stat in big]
