"""End to end: a real `wasmwatch serve`, a real webhook receiver and a real SMTP server (aiosmtpd)
on loopback."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerts.receivers import SmtpReceiver, WebhookReceiver
from tests.conftest import KEY, LiveServer

pytestmark = pytest.mark.server


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def send(server: LiveServer, *items: dict[str, Any]) -> None:
    t = now_ms()
    body = {"sent_at": t, "context": {"session": "s1", "release": "1.0.0", "online": True},
            "items": [{"id": uuid.uuid4().hex, "ts": t, **i} for i in items]}
    answer = httpx.post(f"{server.url}/api/v1/ingest?key={KEY}", json=body, timeout=10)
    assert answer.status_code == 200 and answer.json()["accepted"] == len(items), answer.text


def api(server: LiveServer, path: str, **params: str) -> Any:
    answer = httpx.get(server.url + path, params=params, timeout=10,
                       headers={"authorization": f"Bearer {server.admin_token}"})
    answer.raise_for_status()
    return answer.json()


def server_with(tmp_path: Path, toml: str) -> LiveServer:
    config = tmp_path / "wasmwatch.toml"
    config.write_text(toml)
    return LiveServer(tmp_path / "data", env={"WASMWATCH_CONFIG": str(config)})


def is_(status: str, rule: str) -> Any:
    return lambda body: body["status"] == status and body["alerts"][0]["labels"]["alertname"] == rule


SLOW_OP = """
[[rules]]
name = "slow_op"
kind = "threshold"
metric = "operation"
stat = "max"
threshold = 1000
window = "10s"
min_samples = 1
"""


def test_breach_fires_cooldown_holds_restart_sends_no_duplicate_recovery_resolves(
        tmp_path: Path, webhook: WebhookReceiver, smtp: SmtpReceiver) -> None:
    """The whole life of an alert, through a restart, on the webhook and by e-mail."""
    server = server_with(tmp_path, f"""
alert_webhook_url = "{webhook.url('/ok')}"
alert_slack_url = "{webhook.url('/slack')}"
alert_smtp_url = "{smtp.url}"
alert_email_to = "ops@example.com, oncall@example.com"
alert_email_from = "wasmwatch@example.com"
{SLOW_OP}""").start()
    try:
        send(server, {"type": "operation", "name": "render", "ms": 5000.0})
        fired = webhook.wait_for("/ok", is_("firing", "slow_op")).body
        assert fired["version"] == "4"
        alert = fired["alerts"][0]
        assert alert["labels"] == {"alertname": "slow_op", "severity": "info"}
        assert alert["endsAt"] == "0001-01-01T00:00:00Z"
        assert {"alert_type", "severity", "data", "timestamp", "service"} <= set(fired)
        assert fired["alert_type"] == "slow_op" and fired["service"] == "wasmwatch"
        assert fired["data"]["value"] == 5000.0 and fired["data"]["threshold"] == 1000.0
        deadline = time.monotonic() + 10
        while not smtp.subjects() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any("[FIRING] slow_op" in s for s in smtp.subjects())
        slack = webhook.wait_for("/slack", lambda b: "[FIRING] slow_op" in b["text"]).body
        assert slack["blocks"][0]["text"]["type"] == "mrkdwn"
        _, envelope = smtp.handler.messages[0]
        assert sorted(envelope.rcpt_tos) == ["oncall@example.com", "ops@example.com"]

        server.stop()
        server.start()  # a restart in the middle
        resolved = webhook.wait_for("/ok", is_("resolved", "slow_op"), timeout=40).body
        assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
        assert resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
        assert len([b for b in webhook.bodies("/ok") if b["status"] == "firing"]) == 1

        send(server, {"type": "operation", "name": "render", "ms": 7000.0})  # fires again
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            episodes = api(server, "/api/v1/alerts", rule="slow_op")["alerts"]
            if len(episodes) == 2:
                break
            time.sleep(0.05)
        assert len(episodes) == 2, episodes
        newer, older = episodes
        assert newer["fired_at"] is not None and newer["notified_at"] is None  # within the cooldown
        assert older["fingerprint"] == newer["fingerprint"] == alert["fingerprint"]
        time.sleep(1.5)
        assert len([b for b in webhook.bodies("/ok") if b["status"] == "firing"]) == 1

        history = api(server, "/api/v1/alerts", rule="slow_op")["alerts"]
        first = next(a for a in history if a["id"] == older["id"])
        assert first["state"] == "resolved" and first["notified_at"] is not None
        assert [t["to"] for t in first["transitions"]] == ["firing", "resolved"]
        ok = {(d["channel"], d["kind"]) for d in first["deliveries"] if d["outcome"] == "ok"}
        assert {("webhook", "firing"), ("email", "firing"), ("log", "firing"), ("slack", "firing"),
                ("webhook", "resolved"), ("slack", "resolved"), ("email", "resolved")} <= ok
    finally:
        server.stop()


class Stream:
    """Reads /api/v1/stream in a thread, keeping (event, data) pairs."""

    def __init__(self, server: LiveServer) -> None:
        self.events: list[tuple[str, str]] = []
        self._server = server
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._open = threading.Event()
        self._thread.start()
        assert self._open.wait(10)

    def _read(self) -> None:
        headers = {"authorization": f"Bearer {self._server.admin_token}"}
        with httpx.stream("GET", self._server.url + "/api/v1/stream", headers=headers,
                          timeout=httpx.Timeout(30, read=None)) as answer:
            event = ""
            for line in answer.iter_lines():
                self._open.set()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    self.events.append((event, line[6:]))


def test_a_hanging_or_failing_channel_is_retried_and_delays_no_other(
        tmp_path: Path, webhook: WebhookReceiver) -> None:
    """Webhook answers 500 twice then 200: retried, every attempt recorded; Slack hangs: it
    times out without holding the webhook up; /metrics counts it; the stream shows the alert."""
    server = server_with(tmp_path, f"""
alert_webhook_url = "{webhook.url('/fail2')}"
alert_slack_url = "{webhook.url('/hang')}"
alert_timeout_s = 3.0
alert_backoff_s = 0.2
alert_attempts = 3
""").start()
    try:
        stream = Stream(server)
        sent = time.monotonic()
        send(server, {"type": "error", "kind": "RuntimeError", "message": "boom",
                      "category": "critical"})
        ok = webhook.wait_for("/fail2", lambda b: b["alert_type"] == "critical_error"
                              and len(webhook.bodies("/fail2")) >= 1, timeout=10)
        deadline = time.monotonic() + 10
        while len(webhook.bodies("/fail2", status=200)) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        arrivals = [r for r in webhook.received if r.path == "/fail2"]
        assert [r.status for r in arrivals] == [500, 500, 200]
        assert ok.at - sent < 3.0  # the first slack attempt had not even timed out yet
        assert webhook.bodies("/hang", status=None)  # slack got the request and hung

        t0 = time.monotonic()
        send(server, {"type": "operation", "name": "render", "ms": 3.0})
        ingest_s = time.monotonic() - t0
        assert ingest_s < 2.0  # ingest does not wait on the hanging channel

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            (alert,) = api(server, "/api/v1/alerts", rule="critical_error")["alerts"]
            slack = [d for d in alert["deliveries"] if d["channel"] == "slack"]
            if slack:
                break
            time.sleep(0.1)
        hooks = [d for d in alert["deliveries"] if d["channel"] == "webhook"]
        assert [(d["attempt"], d["outcome"]) for d in hooks] == [(1, "error"), (2, "error"), (3, "ok")]
        assert hooks[0]["error"] == "HTTP 500"
        assert slack[0]["outcome"] == "timeout"
        metrics = httpx.get(server.url + "/metrics", timeout=10).text
        assert 'wasmwatch_alert_deliveries_total{channel="webhook",outcome="error"} 2.0' in metrics
        assert 'wasmwatch_alert_deliveries_total{channel="slack",outcome="timeout"} 1.0' in metrics
        assert any(event == "alert" and '"critical_error"' in data for event, data in stream.events)
    finally:
        server.stop()
