"""The query API over HTTP: auth, parameters, and answers built from ingested items."""

from __future__ import annotations

import httpx
import numpy as np

from tests.conftest import KEY, NOW, envelope, item
from wasmwatch.clock import ManualClock


async def ingest(client: httpx.AsyncClient, items: list[dict[str, object]]) -> None:
    r = await client.post(f"/api/v1/ingest?key={KEY}", json=envelope(items))
    assert r.status_code == 200 and r.json()["accepted"] == len(items), r.text


async def test_admin_token_required(client: httpx.AsyncClient) -> None:
    """Query endpoints answer 401 without the admin token, and with a wrong one."""
    for path in ("/api/v1/summary", "/api/v1/series", "/api/v1/errors", "/api/v1/items"):
        assert (await client.get(path)).status_code == 401
        r = await client.get(path, headers={"authorization": "Bearer wrong"})
        assert r.status_code == 401


async def test_summary_percentiles_are_exact(client: httpx.AsyncClient, admin: dict[str, str],
                                             clock: ManualClock) -> None:
    """The 1 h summary's operation percentiles equal numpy's over the same values."""
    rng = np.random.default_rng(7)
    values = rng.lognormal(3, 1, 400).round(3).clip(0, 60_000)
    await ingest(client, [item(ms=float(v), ts=NOW - 1000) for v in values])
    await ingest(client, [item("error", ts=NOW - 1000) for _ in range(20)])
    body = (await client.get("/api/v1/summary?window=1h", headers=admin)).json()
    op = body["operations"]["render"]
    assert op["count"] == 400
    for q, key in ((50, "p50_ms"), (95, "p95_ms"), (99, "p99_ms")):
        assert abs(op[key] - float(np.percentile(values, q))) < 1e-6
    assert body["errors"]["rate"] == 20 / 400
    assert body["approximate"] is False


async def test_error_rate_is_zero_without_operations(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """With no operations the error rate is 0, not a crash."""
    await ingest(client, [item("error", ts=NOW - 1000)])
    body = (await client.get("/api/v1/summary", headers=admin)).json()
    assert body["errors"]["count"] == 1
    assert body["errors"]["rate"] in (0, 0.0, None)


async def test_bad_window_is_400(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Windows outside 5m..30d are a 400 naming the problem."""
    for window in ("1m", "90d", "soon"):
        r = await client.get(f"/api/v1/summary?window={window}", headers=admin)
        assert r.status_code == 400, window
        assert r.json()["error"]


async def test_bad_flag_is_400_and_spellings_of_true_and_false_hold(client: httpx.AsyncClient,
                                                                     admin: dict[str, str]) -> None:
    """`exact` and `compare` take true/false (1/0, yes/no); anything else is a 400 naming it."""
    for query in ("exact=maybe", "compare=2", "exact=", "exact=TRUE"):
        r = await client.get(f"/api/v1/summary?window=1h&{query}", headers=admin)
        assert r.status_code == 400, query
        assert r.json()["error"].startswith(query.split("=")[0] + ":")
    for value, source in (("true", "raw"), ("1", "raw"), ("false", None), ("no", None)):
        r = await client.get(f"/api/v1/summary?window=24h&exact={value}", headers=admin)
        assert r.status_code == 200, value
        assert (r.json()["source"] == "raw") == (source == "raw"), value


async def test_series_and_errors(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Series buckets the operations; errors are grouped by fingerprint."""
    await ingest(client, [item(ms=10.0, ts=NOW - 60_000), item(ms=30.0, ts=NOW - 60_000)])
    await ingest(client, [item("error", kind="RuntimeError", message=f"trap {i}", ts=NOW - 1000)
                          for i in range(3)])
    series = (await client.get("/api/v1/series?metric=operation&window=1h&step=1m", headers=admin)).json()
    assert sum(p["count"] for p in series["points"]) == 2
    errors = (await client.get("/api/v1/errors?window=1h", headers=admin)).json()
    groups = errors["groups"]
    assert len(groups) == 1 and groups[0]["count"] == 3


async def test_items_listing(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """The newest raw items can be listed and filtered by type."""
    await ingest(client, [item(ts=NOW - 10), item("feature", ts=NOW - 5)])
    body = (await client.get("/api/v1/items?type=feature", headers=admin)).json()
    assert [r["type"] for r in body["items"]] == ["feature"]


async def test_openapi_describes_every_route(client: httpx.AsyncClient) -> None:
    """/openapi.json lists every public endpoint with its methods."""
    doc = (await client.get("/openapi.json")).json()
    for path in ("/api/v1/ingest", "/api/telemetry/wasm", "/api/telemetry/wasm/bulk",
                 "/api/v1/summary", "/api/v1/series", "/api/v1/errors", "/api/v1/stream",
                 "/metrics", "/healthz", "/sdk/wasmwatch.js", "/sdk/wasmwatch.iife.js", "/dashboard",
                 "/api/v1/symbols", "/sdk/wasmwatch.worker.js", "/sdk/wasmwatch.page-workers.js"):
        assert path in doc["paths"], path
    assert "Envelope" in doc["components"]["schemas"]


async def test_unknown_path_and_method(client: httpx.AsyncClient) -> None:
    """Unknown paths are 404 and wrong methods 405, both as JSON errors."""
    assert (await client.get("/nope")).status_code == 404
    r = await client.get("/api/v1/ingest")
    assert r.status_code == 405 and "POST" in r.json()["error"]


async def test_log_levels_change_at_run_time(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """PUT /api/v1/admin/log-levels changes a module's level; a bad level is a 400."""
    r = await client.put("/api/v1/admin/log-levels", headers=admin, json={"wasmwatch.ingest": "DEBUG"})
    assert r.status_code == 200 and r.json()["wasmwatch.ingest"] == "DEBUG"
    r = await client.put("/api/v1/admin/log-levels", headers=admin, json={"wasmwatch": "LOUD"})
    assert r.status_code == 400
