"""Insight endpoints over HTTP: releases, custom ranges, budgets from settings, the banner."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import KEY, NOW, envelope, item, settings_for
from wasmwatch.cli import banner
from wasmwatch.clock import ManualClock
from wasmwatch.runtime import Runtime
from wasmwatch.web.app import App


async def ingest(client: httpx.AsyncClient, items: list[dict[str, object]], **ctx: object) -> None:
    r = await client.post(f"/api/v1/ingest?key={KEY}", json=envelope(items, **ctx))
    assert r.status_code == 200 and r.json()["accepted"] == len(items), r.text


async def test_releases_endpoint(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """GET /api/v1/releases is admin-only, listed in /openapi.json, and compares releases."""
    assert (await client.get("/api/v1/releases")).status_code == 401
    await ingest(client, [item(ms=10.0, ts=NOW - 7200_000) for _ in range(5)], release="1.0")
    await ingest(client, [item(ms=20.0, ts=NOW - 600_000) for _ in range(5)], release="1.1")
    body = (await client.get("/api/v1/releases", headers=admin)).json()
    assert body["factor"] == 1.5
    assert [r["release"] for r in body["releases"]] == ["1.1", "1.0"]
    assert body["releases"][0]["operations"]["render"]["regressed"] is True
    assert "/api/v1/releases" in (await client.get("/openapi.json")).json()["paths"]


async def test_regression_factor_is_a_setting(tmp_path: Path) -> None:
    """release_regression_factor changes what is flagged."""
    rt = Runtime(settings_for(tmp_path / "d", release_regression_factor=2.5),
                 clock=ManualClock(NOW))
    await rt.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=App(rt)),
                                     base_url="http://t") as c:
            await ingest(c, [item(ms=10.0, ts=NOW - 7200_000) for _ in range(5)], release="1.0")
            await ingest(c, [item(ms=20.0, ts=NOW - 600_000) for _ in range(5)], release="1.1")
            body = (await c.get("/api/v1/releases",
                                headers={"authorization": "Bearer adm_test_token"})).json()
    finally:
        await rt.stop()
    assert body["factor"] == 2.5
    assert body["releases"][0]["operations"]["render"]["regressed"] is False


async def test_custom_range(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """from/to picks exactly that range for summary, series and errors."""
    await ingest(client, [item(ms=10.0, ts=NOW - 1800_000), item(ms=30.0, ts=NOW - 60_000),
                          item("error", ts=NOW - 1800_000)])
    q = f"from={NOW - 2400_000}&to={NOW - 1200_000}"
    summary = (await client.get(f"/api/v1/summary?{q}", headers=admin)).json()
    assert summary["operations"]["render"]["count"] == 1
    assert (summary["from_ms"], summary["to_ms"]) == (NOW - 2400_000, NOW - 1200_000)
    series = (await client.get(f"/api/v1/series?{q}&metric=operation", headers=admin)).json()
    assert sum(p["count"] for p in series["points"]) == 1
    errors = (await client.get(f"/api/v1/errors?{q}", headers=admin)).json()
    assert errors["total"] == 1


async def test_bad_range_is_400(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """A reversed or half range is a 400 naming the problem."""
    for q in (f"from={NOW}&to={NOW - 600_000}", f"from={NOW - 600_000}", "from=x&to=y"):
        r = await client.get(f"/api/v1/summary?{q}", headers=admin)
        assert r.status_code == 400, q
        assert "from" in r.json()["error"]


async def test_budgets_come_from_settings(tmp_path: Path) -> None:
    """The summary serves the budgets; a setting changes them."""
    rt = Runtime(settings_for(tmp_path / "d", budget_operation_ms=75.0), clock=ManualClock(NOW))
    await rt.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=App(rt)),
                                     base_url="http://t") as c:
            body = (await c.get("/api/v1/summary",
                                headers={"authorization": "Bearer adm_test_token"})).json()
    finally:
        await rt.stop()
    assert body["budgets"]["operation_ms"] == 75.0
    assert body["budgets"]["error_rate"] == 0.05
    assert body["budgets"]["first_load_ms"] == 2000.0


async def test_banner_leaves_the_dashboard_out_when_off(tmp_path: Path) -> None:
    """dashboard = false: the banner prints no dashboard link (the token is still printed)."""
    for on in (True, False):
        rt = Runtime(settings_for(tmp_path / f"d{on}", dashboard=on), clock=ManualClock(NOW))
        await rt.start()
        try:
            text = banner(rt)
        finally:
            await rt.stop()
        assert ("/dashboard" in text) is on
        assert "admin token" in text
