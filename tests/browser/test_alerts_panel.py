"""The dashboard's alerts in real headless Chromium against a real `wasmwatch serve`: the
"Recent alerts" panel fills live over the stream, the rules show their state, and a silence
made from an alert appears in the silences table."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser.conftest import dashboard_page
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = dashboard_page(browser)
    yield page
    page.context.close()


def post_error(server: LiveServer, category: str, operation: str) -> None:
    now = int(time.time() * 1000)
    answer = httpx.post(f"{server.url}/api/v1/ingest", params={"key": server.key}, timeout=30, json={
        "sent_at": now, "context": {"session": "s1", "release": "3.1.0", "online": True},
        "items": [{"id": uuid.uuid4().hex, "type": "error", "ts": now, "kind": "RuntimeError",
                   "message": "unreachable", "category": category, "operation": operation}]})
    answer.raise_for_status()


def test_recent_alerts_panel_is_live_and_silences_from_an_alert(live_server: LiveServer,
                                                                page: Any) -> None:
    page.goto(f"{live_server.url}/dashboard#token={live_server.admin_token}")
    page.locator('#rules-table tr[data-rule="critical_error"]').wait_for()
    assert page.locator("#rules-table tbody tr").count() == 7
    assert page.locator('#rules-table tr[data-rule="critical_error"] .state').inner_text() == "inactive"
    assert "count error > 0 over 5m where category = critical" in page.locator(
        '#rules-table tr[data-rule="critical_error"]').inner_text()  # the filter is shown
    assert "No alerts yet" in page.locator("#alerts-list").inner_text()
    page.wait_for_selector('#live[data-state="on"]')

    post_error(live_server, "critical", "save")  # after the page loaded: must come over the stream
    item = page.locator("#alerts-list li.alert").first
    item.wait_for(timeout=15_000)
    assert item.locator(".alert-type").inner_text() == "critical_error"
    assert item.locator(".sev").inner_text().lower() == "critical"
    assert item.locator(".state").inner_text() == "firing"
    assert "critical error" in item.locator(".alert-details").inner_text()
    assert item.locator(".alert-time").inner_text()
    page.wait_for_function("""() => document.querySelector(
        '#rules-table tr[data-rule="critical_error"] .state')?.textContent === 'firing'""",
                           timeout=15_000)

    item.locator("button.silence").click()
    row = page.locator("#silences-table tbody tr[data-id]").first
    row.wait_for(timeout=10_000)
    assert "alertname=critical_error" in row.inner_text()
    assert "active" in row.inner_text()
    silences = httpx.get(f"{live_server.url}/api/v1/silences", timeout=10,
                         headers={"authorization": f"Bearer {live_server.admin_token}"}).json()
    assert silences["silences"][0]["matchers"][0] == {"name": "alertname", "value": "critical_error",
                                                      "regex": False}
    row.locator("button").click()
    page.wait_for_function("""() => document.querySelector('#silences-table tbody tr[data-id]')
        ?.textContent.includes('expired')""", timeout=10_000)
    assert page.problems == []
