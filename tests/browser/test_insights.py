"""Dashboard insights in real Chromium against a real `wasmwatch serve` with seeded releases:
the numbers shown equal the query API's, a slower release is flagged, a drag zooms (URL and
data), and nothing is cut off at 360 px or 1440 px. ``WASMWATCH_SCREENSHOT=1`` writes the
screenshots under docs/.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.browser.conftest import dashboard_page
from tests.browser.test_dashboard import CHROME_UA, FIREFOX_UA, WASM_STACK, item, now_ms, post
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60_000
# release -> (minutes ago it shipped, load slowdown, render slowdown)
RELEASES = {"1.0.0": (55, 1.0, 1.0), "1.1.0": (38, 1.05, 1.0), "1.2.0": (20, 1.8, 2.2)}

# Every element that must show its whole content: tiles, their values, tables in their cards.
OVERFLOW_JS = """() => {
  const cut = []
  for (const el of document.querySelectorAll('.tile, .tile .value, .tile .sub, .card, .chart')) {
    if (el.offsetParent && el.scrollWidth > el.clientWidth + 1) cut.push((el.id || el.className) + ' ' + el.scrollWidth + '>' + el.clientWidth)
  }
  for (const table of document.querySelectorAll('table.grid')) {
    const box = table.closest('.scroll')
    if (table.offsetParent && (table.scrollWidth > box.clientWidth + 1 || box.scrollWidth > box.clientWidth + 1)) cut.push(table.id + ' ' + table.scrollWidth + '>' + box.clientWidth)
  }
  if (document.documentElement.scrollWidth > window.innerWidth) cut.push('page ' + document.documentElement.scrollWidth)
  return cut
}"""


def seed(server: LiveServer, seed: int = 3) -> None:
    """Three releases, eight sessions each; 1.2.0 downloads and renders much slower."""
    rnd = random.Random(seed)
    now = now_ms()
    for release, (ago, load, render) in RELEASES.items():
        for s in range(8):
            start = now - ago * MINUTE + s * 60_000
            cached = s % 3 == 0
            fetch = rnd.uniform(600, 900) * load
            items = [item("bundle_load", start, url="/app.wasm", cached=cached, streaming=True,
                          fetch_ms=fetch, compile_ms=rnd.uniform(60, 90) * load,
                          instantiate_ms=rnd.uniform(8, 12), total_ms=fetch + 100 * load,
                          transfer_bytes=0 if cached else 1_830_000, decoded_bytes=4_200_000),
                     item("runtime_init", start + 400, ms=rnd.uniform(200, 300))]
            for i in range(12):
                items.append(item("operation", start + 500 + i * 900, name="render",
                                  ms=rnd.uniform(8, 14) * render))
                items.append(item("operation", start + 600 + i * 900, name="save",
                                  ms=rnd.uniform(20, 40), ok=i != 5 or release != "1.2.0"))
            if release == "1.2.0" and s < 4:
                items.append(item("error", start + 5000, category="runtime", kind="RuntimeError",
                                  message="unreachable executed", stack=WASM_STACK, operation="save"))
            items.append(item("memory", start + 700, wasm_bytes=int(rnd.uniform(3, 6) * 2**20)))
            items.append(item("feature", start + 800, name="export"))
            post(server, items, ua=CHROME_UA if s % 2 else FIREFOX_UA, release=release,
                 session=f"{release}-s{s}")


def api(server: LiveServer, path: str, **params: Any) -> Any:
    answer = httpx.get(server.url + path, params=params, timeout=10,
                       headers={"authorization": f"Bearer {server.admin_token}"})
    answer.raise_for_status()
    return answer.json()


def fmt_ms(v: float) -> str:
    """The dashboard's fmt.ms, for values in the seeded range."""
    if v >= 1000:
        return f"{v / 1000:.{1 if v >= 10000 else 2}f} s"
    if v >= 100:
        return f"{round(v)} ms"
    return f"{v:.1f} ms" if v >= 10 else f"{v:.2f} ms"


@pytest.fixture
def seeded(live_server: LiveServer) -> LiveServer:
    seed(live_server)
    return live_server


def open_page(browser: Any, server: LiveServer, width: int, hash_: str = "") -> Any:
    page = dashboard_page(browser, width=width)
    page.goto(f"{server.url}/dashboard#token={server.admin_token}{hash_}")
    return page


def shot(page: Any, name: str, tmp_path: Path, full: bool = False) -> None:
    out = (ROOT / "docs" if os.environ.get("WASMWATCH_SCREENSHOT") else tmp_path) / name
    page.screenshot(path=str(out), full_page=full)
    assert out.stat().st_size > 10_000


def test_tiles_equal_the_api(seeded: LiveServer, browser: Any, tmp_path: Path) -> None:
    """Each tile shows the summary API's number; the errors table matches the error tile."""
    page = open_page(browser, seeded, 1440)
    page.locator('#ops-table tr[data-op="render"]').wait_for()
    page.wait_for_function("document.querySelectorAll('.uplot').length === 4")
    s = api(seeded, "/api/v1/summary", window="1h", compare="true")
    first, cached = s["bundle_load"]["first"], s["bundle_load"]["cached"]
    text = lambda sel: page.locator(sel).inner_text().strip()  # noqa: E731
    assert text("#tile-bundle-first .value") == f"{fmt_ms(first['p50_ms'])} / {fmt_ms(first['p95_ms'])}"
    assert text("#tile-bundle-cached .value") == f"{fmt_ms(cached['p50_ms'])} / {fmt_ms(cached['p95_ms'])}"
    assert text("#tile-bundle-first .sub") == f"{first['count']} loads"
    assert text("#tile-runtime .value") == fmt_ms(s["runtime_init"]["p95_ms"])
    slowest = max(s["operations"].items(), key=lambda kv: kv[1]["p95_ms"])
    assert text("#tile-operation .label").lower() == "slowest operation p95"
    assert text("#tile-operation .value") == fmt_ms(slowest[1]["p95_ms"])
    assert text("#tile-operation .sub").startswith(slowest[0] + " · ")
    assert text("#tile-errors .budget") == "budget ≤ 5 %"
    assert text("#tile-errors .sub").startswith(f"{s['errors']['count']} errors / ")
    assert f"{s['errors']['count']} errors in 1 group" in text("#errors-note")
    assert text("#tile-bundle-first .budget") == "budget < 2 s"
    assert "vs previous" in text("#tile-operation .trend") or "previous" in text("#tile-operation .trend")
    assert page.evaluate(OVERFLOW_JS) == []
    shot(page, "dashboard-1440.png", tmp_path)
    # a live error reaches the tile and the errors table in the same refresh
    page.wait_for_selector('#live[data-state="on"]')
    post(seeded, [item("error", category="runtime", kind="RuntimeError",
                       message="unreachable executed", stack=WASM_STACK, operation="save")],
         release="1.2.0")
    n = s["errors"]["count"] + 1
    page.wait_for_function(
        f"document.querySelector('#tile-errors .sub').textContent.startsWith('{n} errors')",
        timeout=15_000)
    assert f"{n} errors in 1 group" in text("#errors-note")
    assert page.problems == []


def test_operation_filter_narrows_the_events_tile(seeded: LiveServer, browser: Any) -> None:
    """Filtering on an operation leaves only its operations and errors in the events tile."""
    page = open_page(browser, seeded, 1280, "&operation=save")
    page.locator('#ops-table tr[data-op="save"]').wait_for()
    page.wait_for_function("document.querySelector('#tile-events .label').textContent.includes('save')")
    kinds = page.locator("#tile-events li").evaluate_all("els => els.map(e => e.dataset.type)")
    assert sorted(kinds) == ["error", "operation"]
    assert page.locator("#tile-operation .label").inner_text().strip().lower() == "save p95"
    page.select_option("#f-browser", "Firefox")
    page.wait_for_function("location.hash.includes('browser=Firefox')")
    assert "operation=save" in page.url
    page.go_back()
    page.wait_for_function("!location.hash.includes('browser=')")
    assert page.locator("#f-browser").input_value() == ""


def test_release_view_flags_the_slower_release(seeded: LiveServer, browser: Any,
                                               tmp_path: Path) -> None:
    """The releases page shows the API's releases, and flags 1.2.0's download and render."""
    page = open_page(browser, seeded, 1440, "&window=24h&page=releases")
    page.locator('#release-view-table tr[data-release="1.2.0"]').wait_for()
    answer = api(seeded, "/api/v1/releases", window="24h")
    shown = page.locator("#release-view-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.release)")
    assert shown == [r["release"] for r in answer["releases"]] == ["1.2.0", "1.1.0", "1.0.0"]
    newest = answer["releases"][0]
    assert newest["metrics"]["download_ms"]["regressed"] is True
    assert newest["operations"]["render"]["regressed"] is True
    assert answer["releases"][1]["regressions"] == []
    row = page.locator('#release-view-table tr[data-release="1.2.0"]')
    download = row.locator("td").nth(3)
    assert download.get_attribute("data-regressed") == "true"
    assert fmt_ms(newest["metrics"]["download_ms"]["p95"]) in download.inner_text()
    flagged = page.locator('#release-view-table tr[data-release="1.1.0"] td[data-regressed="true"]')
    assert flagged.count() == 0
    render = page.locator('#release-ops-table tr[data-op="render"] td').nth(1)
    assert render.get_attribute("data-regressed") == "true"
    assert page.evaluate(OVERFLOW_JS) == []
    shot(page, "releases.png", tmp_path)
    assert page.problems == []


def test_drag_zooms_url_and_data(seeded: LiveServer, browser: Any) -> None:
    """Dragging across a chart puts from/to in the URL, and the tiles show that range's data."""
    page = open_page(browser, seeded, 1280)
    page.locator('#ops-table tr[data-op="render"]').wait_for()
    page.wait_for_function("document.querySelectorAll('.uplot').length === 4")
    over = page.locator("#chart-operation .u-over").bounding_box()
    y = over["y"] + over["height"] / 2
    # the last third of the hour: only release 1.2.0 (shipped 20 minutes ago) is in it
    page.mouse.move(over["x"] + over["width"] * 0.68, y)
    page.mouse.down()
    page.mouse.move(over["x"] + over["width"] * 0.99, y, steps=8)
    page.mouse.up()
    page.wait_for_function("location.hash.includes('from=')")
    q = parse_qs(urlparse(page.url).fragment)
    start, end = int(q["from"][0]), int(q["to"][0])
    assert 60_000 <= end - start < 25 * MINUTE
    page.wait_for_selector("#zoom:not([hidden])")
    page.wait_for_function("document.querySelector('#range').textContent.startsWith('Zoomed')")
    s = api(seeded, "/api/v1/summary", **{"from": str(start), "to": str(end)})
    count = s["operations"]["render"]["count"]
    assert 0 < count < 3 * 8 * 12
    page.wait_for_function(
        f"""() => document.querySelector('#ops-table tr[data-op="render"] td:nth-child(2)')
                 ?.textContent.trim() === '{count}'""")
    # the zoomed view survives a reload from its URL, and the reset brings the window back
    page.reload()
    page.wait_for_function("document.querySelector('#range').textContent.startsWith('Zoomed')")
    page.click("#zoom")
    page.wait_for_function("!location.hash.includes('from=') && location.hash.includes('window=1h')")
    assert page.problems == []


def test_narrow_and_wide_screens_cut_nothing(seeded: LiveServer, browser: Any,
                                             tmp_path: Path) -> None:
    """At 360 px and 1440 px no tile, value or table is wider than its box."""
    for width in (360, 420, 1440):
        page = open_page(browser, seeded, width)
        page.locator('#ops-table tr[data-op="render"]').wait_for()
        page.locator("#errors-table tr.group").first.wait_for()
        page.wait_for_function("document.querySelectorAll('.uplot').length === 4")
        assert page.evaluate(OVERFLOW_JS) == [], width
        if width == 360:
            shot(page, "dashboard-360.png", tmp_path)
        for view, ready in (("releases", '#release-view-table tr[data-release="1.2.0"]'),
                            ("insights", '#bounce-table tr[data-bucket="< 1 s"]'),
                            ("session&session=1.2.0-s1", "#session-table tbody tr")):
            page.evaluate(f"location.hash = 'window=1h&page={view}'")
            page.locator(ready).first.wait_for()
            assert page.evaluate(OVERFLOW_JS) == [], (width, view)
            if width == 360 and view == "releases":
                shot(page, "releases-360.png", tmp_path)
        page.context.close()


SDK_STACK = WASM_STACK + "\n    at report (http://127.0.0.1:8787/sdk/wasmwatch.js:1:2345)"


def test_error_states_survive_a_restart_and_lead_to_the_session(
        live_server: LiveServer, browser: Any, tmp_path: Path) -> None:
    """Resolve a group, restart the server, it is still resolved; a recurrence in a new release
    reopens it as regressed; its sample opens the session's timeline."""
    seed(live_server)
    page = open_page(browser, live_server, 1440)
    group = page.locator("#errors-table tr.group").first
    group.wait_for()
    answer = api(live_server, "/api/v1/errors", window="1h")
    g = answer["groups"][0]
    group.click()
    detail = page.locator("#errors-table tr.detail").first
    assert detail.locator(".by-release").inner_text() == ", ".join(
        f"{k} {v}" for k, v in g["by_release"].items())
    assert detail.locator(".spark").count() == 0  # the sparkline is in the row itself
    assert group.locator(".spark rect").count() == sum(1 for n in g["trend"] if n)
    detail.locator('button[data-to="resolved"]').click()
    page.wait_for_selector('#errors-table tr.group[data-state="resolved"]')
    page.context.close()

    live_server.stop()
    live_server.start()
    page = open_page(browser, live_server, 1440)
    page.wait_for_selector('#errors-table tr.group[data-state="resolved"]')
    post(live_server, [item("error", category="runtime", kind="RuntimeError",
                            message="unreachable executed", stack=SDK_STACK, operation="save")],
         release="1.3.0", session="after-fix")
    page.wait_for_selector('#errors-table tr.group[data-state="regressed"]', timeout=20_000)
    row = page.locator('#errors-table tr.group[data-state="regressed"]')
    assert "regressed" in row.inner_text()
    row.click()
    detail = page.locator("#errors-table tr.detail:not([hidden])")
    assert "1.3.0 (new release)" in detail.inner_text()
    stack = detail.locator("pre.stack").inner_text()
    assert "parse_expr" in stack and "wasmwatch.js" not in stack
    assert detail.locator(".sdk-hidden").inner_text() == "1 frame inside the wasmwatch SDK hidden"
    page.locator("#errors-table").scroll_into_view_if_needed()
    shot(page, "errors.png", tmp_path)

    detail.locator(".session-link").click()
    page.wait_for_function("location.hash.includes('page=session') && location.hash.includes('session=after-fix')")
    page.locator("#session-table tbody tr").first.wait_for()
    timeline = api(live_server, "/api/v1/session", id="after-fix")
    assert page.locator("#session-table tbody tr").count() == timeline["total"] == 1
    assert page.locator("#session-head").inner_text().count("1.3.0") == 1
    assert page.problems == []


def test_session_page_shows_the_timeline(seeded: LiveServer, browser: Any, tmp_path: Path) -> None:
    """A session's items in time order, as the API gives them; offline rows are shaded."""
    post(seeded, [item("operation", now_ms() - 5000, name="render", ms=9.0, offline=True),
                  item("offline_sync", now_ms() - 4000, synced=3, ms=120.0, ok=True, pending=0)],
         release="1.2.0", session="1.2.0-s1", online=False)
    page = open_page(browser, seeded, 1280, "&page=session&session=1.2.0-s1")
    page.locator("#session-table tbody tr").first.wait_for()
    timeline = api(seeded, "/api/v1/session", id="1.2.0-s1")
    types = page.locator("#session-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.type)")
    assert types == [i["type"] for i in timeline["items"]]
    assert types[0] == "bundle_load"
    assert page.locator("#session-table tr.away").count() == 2
    assert "never" not in page.locator("#session-offline").inner_text()
    assert page.evaluate(OVERFLOW_JS) == []
    shot(page, "session.png", tmp_path)
    assert page.problems == []


def test_insights_page_equals_the_api(seeded: LiveServer, browser: Any, tmp_path: Path) -> None:
    """Bounce by load time, cost and adoption on the page are the API's numbers."""
    now = now_ms()
    for i in range(3):  # slow loads that left after 2 s without doing anything
        post(seeded, [item("bundle_load", now - 9 * MINUTE, total_ms=6500.0, cached=False,
                           transfer_bytes=1_830_000),
                      item("engagement", now - 9 * MINUTE + 3000, visible_ms=2000.0,
                           online=True, page="/editor")], session=f"gone{i}", release="1.2.0")
    post(seeded, [item("engagement", now - 5 * MINUTE, visible_ms=90_000.0, online=True,
                       page="/editor")], session="1.2.0-s2", release="1.2.0")
    page = open_page(browser, seeded, 1280, "&page=insights")
    page.locator('#bounce-table tr[data-bucket="> 5 s"]').wait_for()
    answer = api(seeded, "/api/v1/insights", window="1h")
    slow = answer["bounce"]["buckets"]["> 5 s"]
    assert (slow["sessions"], slow["bounced"], slow["bounce_rate"]) == (3, 3, 1.0)
    cells = page.locator('#bounce-table tr[data-bucket="> 5 s"] td').all_inner_texts()
    assert [c.strip() for c in cells[:4]] == ["> 5 s", "3", "3", "100 %"]
    for label, b in answer["bounce"]["buckets"].items():
        row = page.locator(f'#bounce-table tr[data-bucket="{label}"] td').nth(1)
        assert row.inner_text().strip() == str(b["sessions"])
    cost = answer["cost"]
    assert f"{cost['network_loads']} loads" in page.locator("#cost-network").inner_text()
    assert f"{cost['client_operations']:,} operations" in page.locator("#cost-ops").inner_text()
    export = answer["engagement"]["features"]["export"]
    shown = page.locator('#adoption-table tr[data-feature="export"] td').all_inner_texts()
    assert shown[1].strip() == str(export["sessions"])
    assert page.evaluate(OVERFLOW_JS) == []
    shot(page, "insights.png", tmp_path)
    assert page.problems == []
