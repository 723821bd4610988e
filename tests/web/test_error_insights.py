"""Error groups over HTTP: breakdowns, trend, states that reopen as regressed; one session."""

from __future__ import annotations

import httpx

from tests.conftest import KEY, NOW, envelope, item
from wasmwatch.clock import ManualClock

UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36")


async def ingest(client: httpx.AsyncClient, items: list[dict[str, object]], **ctx: object) -> None:
    r = await client.post(f"/api/v1/ingest?key={KEY}", json=envelope(items, **ctx),
                          headers={"user-agent": UA})
    assert r.status_code == 200 and r.json()["accepted"] == len(items), r.text


def boom(ts: int) -> dict[str, object]:
    return item("error", kind="RuntimeError", message="unreachable", ts=ts)


async def groups(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict[str, object]]:
    r = await client.get("/api/v1/errors?window=24h", headers=admin)
    assert r.status_code == 200, r.text
    return list(r.json()["groups"])


async def test_breakdown_and_trend(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Each group counts its releases, browsers and OS, and has a 24-bucket trend."""
    await ingest(client, [boom(NOW - 3 * 3_600_000), boom(NOW - 60_000)], release="1.0", session="a")
    await ingest(client, [boom(NOW - 60_000)], release="1.1", session="b")
    (g,) = await groups(client, admin)
    assert g["by_release"] == {"1.0": 2, "1.1": 1}
    assert g["by_browser"] == {"Chrome": 3} and g["by_os"] == {"Linux": 3}
    assert sum(g["trend"]) == 3 and len(g["trend"]) == 24 and g["trend"][-1] == 2
    assert g["sample_session"] in ("a", "b") and g["sample_id"]
    assert g["state"] == "open"


async def test_resolved_group_reopens_as_regressed(client: httpx.AsyncClient,
                                                   admin: dict[str, str],
                                                   clock: ManualClock) -> None:
    """Resolved stays resolved until the error recurs; then it is regressed, naming the release."""
    await ingest(client, [boom(NOW - 60_000)], release="1.0")
    (g,) = await groups(client, admin)
    r = await client.post("/api/v1/errors/state", headers=admin,
                          json={"fingerprint": g["fingerprint"], "state": "resolved"})
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    assert (await groups(client, admin))[0]["state"] == "resolved"
    clock.advance(60_000)
    await ingest(client, [boom(NOW + 30_000)], release="2.0")
    (g,) = await groups(client, admin)
    assert g["state"] == "regressed"
    assert g["regressed_in"] == ["2.0"] and g["new_release"] is True and g["regressed_count"] == 1
    await client.post("/api/v1/errors/state", headers=admin,
                      json={"fingerprint": g["fingerprint"], "state": "ignored"})
    assert (await groups(client, admin))[0]["state"] == "ignored"
    await client.post("/api/v1/errors/state", headers=admin,
                      json={"fingerprint": g["fingerprint"], "state": "open"})
    assert (await groups(client, admin))[0]["state"] == "open"


async def test_bad_state_is_400(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """An unknown state, a missing field or a non-JSON body is a 400 naming it."""
    for body in ({"fingerprint": "x", "state": "fixed"}, {"state": "resolved"}):
        r = await client.post("/api/v1/errors/state", headers=admin, json=body)
        assert r.status_code == 400 and r.json()["error"], body
    r = await client.post("/api/v1/errors/state", headers=admin, content=b"nope")
    assert r.status_code == 400
    assert (await client.post("/api/v1/errors/state", json={})).status_code == 401


async def test_session_timeline(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """A session's items come oldest first, with its context and offline periods."""
    await ingest(client, [item("bundle_load", ts=NOW - 9000), item(ms=5.0, ts=NOW - 8000)],
                 session="s9", release="3.0")
    await ingest(client, [item(ms=5.0, ts=NOW - 7000, offline=True), item(ms=6.0, ts=NOW - 6000)],
                 session="s9", release="3.0", online=False)
    await ingest(client, [item(ms=7.0, ts=NOW - 1000), boom(NOW - 500)], session="s9",
                 release="3.0")
    body = (await client.get("/api/v1/session?id=s9", headers=admin)).json()
    assert [i["ts"] for i in body["items"]] == sorted(i["ts"] for i in body["items"])
    assert body["items"][0]["type"] == "bundle_load" and body["items"][-1]["type"] == "error"
    assert (body["release"], body["browser"], body["total"]) == ("3.0", "Chrome", 6)
    assert body["offline_periods"] == [{"from_ms": NOW - 7000, "to_ms": NOW - 6000, "items": 2}]
    assert body["counts"] == {"bundle_load": 1, "operation": 4, "error": 1}
    r = await client.get("/api/v1/session", headers=admin)
    assert r.status_code == 400 and "session" in r.json()["error"]
