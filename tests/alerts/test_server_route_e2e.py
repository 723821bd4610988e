"""End to end on the app server's side: wasmwatch.client reports requests to a real
`wasmwatch serve`, whose threshold rule on server_request p95 by route fires on a real
webhook receiver for the slow route only, labelled with it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.alerts.receivers import WebhookReceiver
from tests.alerts.test_e2e import api, server_with
from wasmwatch.client import Client, Span

pytestmark = pytest.mark.server


def test_slow_server_route_fires_labelled_with_its_route(tmp_path: Path, webhook: WebhookReceiver) -> None:
    """Five 900 ms requests to one route and five 5 ms ones to another: one alert, route-labelled."""
    server = server_with(tmp_path, f"""
alert_webhook_url = "{webhook.url('/hook')}"

[[rules]]
name = "slow_route"
kind = "threshold"
metric = "server_request"
stat = "p95"
threshold = 500
window = "1m"
min_samples = 5
group_by = ["route"]
""").start()
    client = Client(server.url, server.key, service="shop-api", flush_interval_s=0.05, poll_interval_s=0)
    try:
        now_ms = time.time() * 1000.0
        for i in range(5):
            span = Span(f"{i + 1:032x}", f"{i + 1:016x}")
            client.request("/api/reports/{id}", "GET", 200, 900.0, now_ms - 900.0, span)
            client.request("/api/health", "GET", 200, 5.0, now_ms - 5.0, span)
        client.flush()  # hurries delivery along; the receiver waits for the alert
        fired = webhook.wait_for("/hook", lambda b: b["status"] == "firing", timeout=40).body
        (alert,) = fired["alerts"]
        assert alert["labels"]["alertname"] == "slow_route"
        assert alert["labels"]["route"] == "/api/reports/{id}"
        assert fired["data"]["value"] == pytest.approx(900.0, rel=0.02)  # the p95 sketch is within 1 %
        episodes = api(server, "/api/v1/alerts", rule="slow_route")["alerts"]
        assert [e["labels"].get("route") for e in episodes] == ["/api/reports/{id}"]
    finally:
        client.close()
        server.stop()
