"""The dashboard's project menu in real Chromium: each project's numbers, never the other's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser.conftest import dashboard_page
from tests.browser.test_dashboard import item, now_ms, text
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A 1280x900 page that records page errors (``browser`` is Debian's Chromium)."""
    page = dashboard_page(browser)
    yield page
    page.context.close()


def send(server: LiveServer, key: str, name: str, n: int) -> None:
    ts = now_ms() - 30_000
    answer = httpx.post(f"{server.url}/api/v1/ingest", params={"key": key}, timeout=30, json={
        "sent_at": now_ms(), "context": {"session": "s1", "release": "1.0.0", "page": "/"},
        "items": [item("operation", ts + i, name=name, ms=10.0) for i in range(n)]})
    assert answer.status_code == 200 and answer.json()["accepted"] == n


def test_project_menu_switches_every_panel_and_the_stream(live_server: LiveServer, page: Any) -> None:
    """Picking a project shows its operations only, and its live stream only."""
    auth = {"authorization": f"Bearer {live_server.admin_token}"}
    made = httpx.post(f"{live_server.url}/api/v1/projects", json={"id": "shop"}, headers=auth, timeout=10)
    shop_key = made.json()["key"]["key"]
    send(live_server, live_server.key, "render", 4)
    send(live_server, shop_key, "checkout", 2)

    page.goto(f"{live_server.url}/dashboard#token={live_server.admin_token}")
    page.locator('#ops-table tr[data-op="render"]').wait_for()
    assert page.locator('#ops-table tr[data-op="checkout"]').count() == 0
    menu = page.locator("#f-project")
    menu.wait_for(state="visible")
    assert menu.locator("option").all_inner_texts() == ["default", "shop"]

    menu.select_option("shop")
    page.locator('#ops-table tr[data-op="checkout"]').wait_for()
    assert page.locator('#ops-table tr[data-op="render"]').count() == 0
    assert text(page, '#ops-table tr[data-op="checkout"] td:nth-child(2)') == "2"

    page.wait_for_selector('#live[data-state="on"]')
    send(live_server, live_server.key, "render", 5)  # another project's: not on this page
    send(live_server, shop_key, "checkout", 3)
    page.wait_for_function(
        """() => document.querySelector('#ops-table tr[data-op="checkout"] td:nth-child(2)')
                 ?.textContent.trim() === '5'""", timeout=15_000)
    assert page.locator('#ops-table tr[data-op="render"]').count() == 0
    assert page.problems == []  # type: ignore[attr-defined]
