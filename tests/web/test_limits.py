"""Per-key and per-address ingest limits, failed admin attempts, and the /metrics token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import KEY, TOKEN, envelope, item, settings_for
from wasmwatch.clock import ManualClock
from wasmwatch.runtime import Runtime
from wasmwatch.web.app import App


@asynccontextmanager
async def server(tmp_path: Path, clock: ManualClock, **settings: Any) -> AsyncIterator[Runtime]:
    rt = Runtime(settings_for(tmp_path / "data", **settings), clock=clock)
    await rt.start()
    try:
        yield rt
    finally:
        await rt.stop()


def connect(rt: Runtime, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=App(rt), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def send(c: httpx.AsyncClient, key: str = KEY, n: int = 1, **headers: str) -> httpx.Response:
    return await c.post(f"/api/v1/ingest?key={key}", json=envelope([item() for _ in range(n)]),
                        headers=headers)


async def test_key_limit_is_per_key(tmp_path: Path, clock: ManualClock) -> None:
    """A key past its items/s gets 429 with Retry-After; another key of the project goes on."""
    async with server(tmp_path, clock, key_rate_limit=5.0) as rt, connect(rt) as c:
        assert (await send(c, n=10)).status_code == 200  # the burst: twice the rate
        r = await send(c)
        assert r.status_code == 429 and "for this key" in r.json()["error"]
        assert int(r.headers["retry-after"]) >= 1
        other = await rt.project_admin.create_key("default", "second", clock.now_ms())
        assert (await send(c, other.key)).status_code == 200
        clock.advance(1000)
        assert (await send(c, n=5)).status_code == 200


async def test_address_limit_is_per_address(tmp_path: Path, clock: ManualClock) -> None:
    """One address past its requests/s gets 429 naming the address; another address goes on."""
    async with server(tmp_path, clock, address_rate_limit=2.0) as rt:
        async with connect(rt, "192.0.2.1") as c:
            assert [(await send(c)).status_code for _ in range(5)] == [200] * 4 + [429]
            r = await send(c)
            assert "for this address" in r.json()["error"] and r.headers["retry-after"] == "1"
        async with connect(rt, "192.0.2.2") as c:
            assert (await send(c)).status_code == 200
        metrics = (await connect(rt).get("/metrics")).text
        assert 'wasmwatch_items_lost_total{reason="rate_limited"} 2.0' in metrics


async def test_refused_request_takes_no_tokens(tmp_path: Path, clock: ManualClock) -> None:
    """A batch refused by the key limit leaves the address's budget alone (all or none)."""
    async with server(tmp_path, clock, address_rate_limit=1.0, key_rate_limit=1.0) as rt, connect(rt) as c:
        assert (await send(c, n=3)).status_code == 429  # over the key's burst of 2
        assert (await send(c, n=2)).status_code == 200
        assert (await send(c, n=1)).status_code == 429


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(tmp_path: Path, clock: ManualClock) -> None:
    """X-Forwarded-For names the client only when the peer is a trusted proxy."""
    async with server(tmp_path, clock, address_rate_limit=1.0, trusted_proxies=["10.0.0.0/8"]) as rt:
        async with connect(rt, "10.1.2.3") as proxy:
            for n in range(4):  # four clients behind the proxy, three requests each
                codes = [(await send(proxy, **{"x-forwarded-for": f"198.51.100.{n}"})).status_code
                         for _ in range(3)]
                assert codes == [200, 200, 429]
        async with connect(rt, "192.0.2.9") as direct:  # not trusted: its header is ignored
            codes = [(await send(direct, **{"x-forwarded-for": f"203.0.113.{n}"})).status_code
                     for n in range(3)]
            assert codes == [200, 200, 429]


async def test_failed_admin_attempts_are_slowed(tmp_path: Path, clock: ManualClock) -> None:
    """After N distinct wrong tokens an address gets 429 with Retry-After, even with the right token,
    until the window has passed; other addresses are not affected."""
    right = {"authorization": f"Bearer {TOKEN}"}
    async with (server(tmp_path, clock, admin_max_failures=3, admin_failure_window_s=60.0) as rt,
                connect(rt, "192.0.2.7") as bad, connect(rt, "192.0.2.8") as good):
        assert [(await bad.get("/api/v1/projects", headers={"authorization": f"Bearer nope{n}"})
                 ).status_code for n in range(4)] == [401, 401, 401, 429]
        r = await bad.get("/api/v1/projects", headers=right)
        assert r.status_code == 429 and r.headers["retry-after"] == "60"
        assert (await good.get("/api/v1/projects", headers=right)).status_code == 200
        clock.advance(60_000)
        assert (await bad.get("/api/v1/projects", headers=right)).status_code == 200


async def test_metrics_token_when_set(tmp_path: Path, clock: ManualClock) -> None:
    """With metrics_token set, /metrics needs it as a bearer token; the admin token is not it."""
    async with server(tmp_path, clock, metrics_token="mt_secret") as rt, connect(rt) as c:
        assert (await c.get("/metrics")).status_code == 401
        admin = await c.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert admin.status_code == 401
        r = await c.get("/metrics", headers={"authorization": "Bearer mt_secret"})
        assert r.status_code == 200 and "wasmwatch_items_accepted_total" in r.text


async def test_metrics_open_without_token(client: httpx.AsyncClient) -> None:
    """Unset metrics_token keeps /metrics open, as before."""
    assert (await client.get("/metrics")).status_code == 200
