"""The seed-compatible endpoints map onto the same pipeline."""

from __future__ import annotations

import httpx

from tests.conftest import KEY, NOW
from wasmwatch.runtime import Runtime


def seed(kind: str, **data: object) -> dict[str, object]:
    return {"type": kind, "data": {"timestamp": NOW, "duration": 120, **data},
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "bundle_version": "v1.2.3"}


async def test_single_metric(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """A seed metric is stored with its release and browser; the answer is the seed's."""
    r = await client.post(f"/api/telemetry/wasm?key={KEY}", json=seed("bundle_load"))
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert runtime.store is not None
    row = runtime.store.query("SELECT type, ms, release, browser FROM items")[0]
    assert row == {"type": "bundle_load", "ms": 120.0, "release": "v1.2.3", "browser": "Firefox"}


async def test_missing_fields_is_400(client: httpx.AsyncClient) -> None:
    """A seed metric without timestamp and duration is a 400 naming them."""
    r = await client.post(f"/api/telemetry/wasm?key={KEY}", json={"type": "operation", "data": {}})
    assert r.status_code == 400
    assert "timestamp" in r.json()["error"] and "duration" in r.json()["error"]


async def test_bulk_counts_success_and_errors(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """Bulk answers {success, errors}; durations are clamped; types map onto ours."""
    metrics = [seed("slow_operation", operation_type="create_post", duration=90_000, expected=100),
               seed("critical_error", message="OutOfMemory", stack="x"),
               seed("feature_used", feature="offline_editor"),
               seed("custom_thing"),
               {"type": "operation", "data": {"duration": 1}},
               "nonsense"]
    r = await client.post(f"/api/telemetry/wasm/bulk?key={KEY}", json={"metrics": metrics})
    assert r.json() == {"success": 4, "errors": 2}
    assert runtime.store is not None
    rows = {r["type"]: r for r in runtime.store.query("SELECT * FROM items")}
    assert rows["operation"]["name"] == "create_post"
    assert rows["operation"]["ms"] == 60_000.0
    assert rows["operation"]["expected_ms"] == 100.0
    assert rows["error"]["category"] == "critical"
    assert rows["feature"]["name"] == "offline_editor"
    assert rows["measurement"]["name"] == "custom_thing"


async def test_bulk_replay_is_stored_once(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """Seed metrics carry no ids; the same metric replayed is stored once."""
    body = {"metrics": [seed("runtime_init"), seed("runtime_init", duration=50)]}
    await client.post(f"/api/telemetry/wasm/bulk?key={KEY}", json=body)
    await client.post(f"/api/telemetry/wasm/bulk?key={KEY}", json=body)
    assert runtime.store is not None
    assert runtime.store.query("SELECT count(*) AS n FROM items") == [{"n": 2}]


async def test_bulk_without_metrics_is_400(client: httpx.AsyncClient) -> None:
    """A bulk body without a metrics array is a 400."""
    r = await client.post(f"/api/telemetry/wasm/bulk?key={KEY}", json={"data": []})
    assert r.status_code == 400 and "metrics" in r.json()["error"]


async def test_bulk_with_a_rejected_metric_still_scrubs_the_rest(client: httpx.AsyncClient,
                                                                 runtime: Runtime) -> None:
    """A metric refused for its time sends the batch one by one: the others are still scrubbed."""
    metrics = [seed("operation", operation_type="mail bob@example.com"), seed("operation", timestamp=1000)]
    r = await client.post(f"/api/telemetry/wasm/bulk?key={KEY}", json={"metrics": metrics})
    assert r.json() == {"success": 1, "errors": 1}
    assert runtime.store is not None
    assert runtime.store.query("SELECT name FROM items") == [{"name": "mail [email]"}]
