"""The alerting API in process: listing, filters, silences, rules, test sends, clear 4xx."""

from __future__ import annotations

import httpx

from tests.conftest import KEY, NOW, envelope, item
from wasmwatch.clock import ManualClock
from wasmwatch.runtime import Runtime


async def _fire(client: httpx.AsyncClient, runtime: Runtime, clock: ManualClock) -> None:
    slow = [item("operation", name="render", ms=3000.0, ts=NOW) for _ in range(25)]
    answer = await client.post(f"/api/v1/ingest?key={KEY}", json=envelope(slow))
    assert answer.status_code == 200
    clock.advance(1000)
    runtime.alerts.tick(clock.now_ms())


async def test_alerts_list_filters_and_transitions(client: httpx.AsyncClient, runtime: Runtime,
                                                   clock: ManualClock, admin: dict[str, str]) -> None:
    """A fired alert is listed with its fields; state and rule filter."""
    await _fire(client, runtime, clock)
    body = (await client.get("/api/v1/alerts", headers=admin)).json()
    (alert,) = body["alerts"]
    assert alert["rule"] == "high_operation_latency" and alert["state"] == "firing"
    assert alert["labels"] == {"alertname": "high_operation_latency", "severity": "info",
                               "operation": "render"}
    assert alert["threshold"] == 1000.0 and alert["value"] > 1000
    assert alert["started_at"] == NOW + 1000 and alert["resolved_at"] is None
    assert "render" in alert["description"]
    assert [t["to"] for t in alert["transitions"]] == ["firing"]
    for query in ({"state": "resolved"}, {"rule": "slow_bundle_load"}):
        assert (await client.get("/api/v1/alerts", params=query, headers=admin)).json()["alerts"] == []
    rules = {r["name"]: r for r in (await client.get("/api/v1/rules", headers=admin)).json()["rules"]}
    assert rules["high_operation_latency"]["state"] == "firing"
    assert rules["slow_bundle_load"]["state"] == "inactive"


async def test_bad_parameters_are_4xx_naming_the_problem(client: httpx.AsyncClient,
                                                         admin: dict[str, str]) -> None:
    """Bad state, rule, window, silence bodies and channels answer 400/404, never 500."""
    cases = [
        ("GET", "/api/v1/alerts?state=burning", None, 400, "state"),
        ("GET", "/api/v1/alerts?rule=nope", None, 400, "rule"),
        ("GET", "/api/v1/alerts?rule=", None, 400, "rule"),
        ("GET", "/api/v1/alerts?state=", None, 400, "state"),
        ("GET", "/api/v1/alerts?limit=0", None, 400, "limit"),
        ("GET", "/api/v1/alerts?window=forever", None, 400, "duration"),
        ("POST", "/api/v1/silences", {"matchers": {}}, 400, "duration"),
        ("POST", "/api/v1/silences", {"matchers": {}, "duration": "1h"}, 400, "matchers"),
        ("POST", "/api/v1/silences", {"matchers": {"a": "b"}, "ends_at": 5}, 400, "ends_at"),
        ("POST", "/api/v1/silences", [1, 2], 400, "body"),
        ("DELETE", "/api/v1/silences/nope", None, 404, "nope"),
        ("POST", "/api/v1/alerts/test", {"channel": "pager"}, 400, "channel"),
    ]
    for method, path, body, status, word in cases:
        answer = await client.request(method, path, json=body, headers=admin)
        assert answer.status_code == status, (path, answer.text)
        assert word in answer.json()["error"], (path, answer.text)
    assert (await client.get("/api/v1/alerts")).status_code == 401


async def test_silence_from_an_alert_then_delete(client: httpx.AsyncClient, runtime: Runtime,
                                                 clock: ManualClock, admin: dict[str, str]) -> None:
    """A silence made from an alert's labels silences it; DELETE ends it."""
    answer = await client.post("/api/v1/silences", headers=admin, json={
        "matchers": {"alertname": "high_operation_latency", "operation": "render"},
        "duration": "2h", "comment": "deploying"})
    assert answer.status_code == 201
    silence = answer.json()
    assert silence["state"] == "active" and silence["ends_at"] == NOW + 7_200_000
    await _fire(client, runtime, clock)
    (alert,) = (await client.get("/api/v1/alerts", headers=admin)).json()["alerts"]
    assert alert["silenced"] and alert["notified_at"] is None
    listed = (await client.get("/api/v1/silences", headers=admin)).json()["silences"]
    assert [s["id"] for s in listed] == [silence["id"]]
    ended = await client.delete(f"/api/v1/silences/{silence['id']}", headers=admin)
    assert ended.status_code == 200 and ended.json()["state"] == "expired"
    clock.advance(1000)
    (change,) = runtime.alerts.tick(clock.now_ms())
    assert change.notify == "firing"


async def test_test_send_to_the_log_channel(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """POST /api/v1/alerts/test sends one attempt and answers its outcome."""
    answer = await client.post("/api/v1/alerts/test", json={"channel": "log"}, headers=admin)
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "ok" and answer.json()["kind"] == "test"


async def test_openapi_lists_the_alerting_endpoints(client: httpx.AsyncClient) -> None:
    """Every alerting endpoint is in /openapi.json."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"get"} <= set(paths["/api/v1/alerts"])
    assert "post" in paths["/api/v1/alerts/test"] and "get" in paths["/api/v1/rules"]
    assert {"get", "post"} <= set(paths["/api/v1/silences"])
    assert "delete" in paths["/api/v1/silences/{id}"]


async def test_retention_prunes_resolved_history(client: httpx.AsyncClient, runtime: Runtime,
                                                 clock: ManualClock, admin: dict[str, str]) -> None:
    """Resolved alerts older than the retention go with their transitions; open ones stay."""
    await _fire(client, runtime, clock)
    clock.advance(400_000)  # the window empties: resolved
    runtime.alerts.tick(clock.now_ms())
    assert (await client.get("/api/v1/alerts", params={"state": "resolved"}, headers=admin)).json()["count"] == 1
    await runtime.alerts.flush()
    assert await runtime.alerts.prune(clock.now_ms() + 1) == 1
    assert (await client.get("/api/v1/alerts", headers=admin)).json()["alerts"] == []


async def test_an_instant_rule_fires_on_arrival_without_a_tick(client: httpx.AsyncClient,
                                                               runtime: Runtime) -> None:
    """A critical error is firing as soon as its commit is done (no evaluation ran)."""
    body = envelope([item("error", category="critical", kind="RuntimeError", message="trap")])
    assert (await client.post(f"/api/v1/ingest?key={KEY}", json=body)).status_code == 200
    (alert,) = runtime.alerts.machine.active.values()
    assert (alert.rule, alert.state, alert.severity) == ("critical_error", "firing", "critical")
    assert alert.notified_at is not None


async def test_another_projects_items_do_not_feed_the_default_projects_alerts(
        client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]) -> None:
    """Alerts are per project: a critical error sent to another project fires nothing here."""
    made = await client.post("/api/v1/projects", json={"id": "other"}, headers=admin)
    other = made.json()["key"]["key"]
    body = envelope([item("error", category="critical", kind="RuntimeError", message="trap")])
    assert (await client.post(f"/api/v1/ingest?key={other}", json=body)).status_code == 200
    assert runtime.alerts.machine.active == {}
    assert (await client.post(f"/api/v1/ingest?key={KEY}", json=body)).status_code == 200
    (alert,) = runtime.alerts.machine.active.values()
    assert alert.project == "default"
