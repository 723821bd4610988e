"""The dashboard in real headless Chromium against a real `wasmwatch serve`.

Items go in over HTTP; the page must show them in its tiles and tables, pick up a batch sent
after it loaded through the live stream, and ask for the token again when it is wrong.
``WASMWATCH_SCREENSHOT=1`` also writes docs/dashboard.png (1280x900) from realistic traffic.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import ROOT, dashboard_page
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

CHROME_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/131.0.0.0 Safari/537.36")
FIREFOX_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) "
             "Version/18.1 Safari/605.1.15")
WASM_STACK = ("RuntimeError: unreachable executed\n"
              "    at parse_expr (wasm://wasm/6d7c9f1e:wasm-function[42]:0x1a2b)\n"
              "    at eval_block (wasm://wasm/6d7c9f1e:wasm-function[17]:0x0c4f)\n"
              "    at main (wasm://wasm/6d7c9f1e:wasm-function[3]:0x5c)\n"
              "    at Object.run (http://localhost/app.js:88:12)")


def now_ms() -> int:
    return int(time.time() * 1000)


def item(type_: str, ts: int | None = None, **fields: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "type": type_, "ts": now_ms() if ts is None else ts, **fields}


def post(server: LiveServer, items: list[dict[str, Any]], ua: str = CHROME_UA,
         **context: Any) -> dict[str, Any]:
    ctx = {"session": "s-" + uuid.uuid4().hex[:8], "release": "1.0.0", "page": "/editor",
           "online": True, "connection": "4g", **context}
    answer = httpx.post(f"{server.url}/api/v1/ingest", params={"key": server.key}, timeout=30,
                        headers={"user-agent": ua},
                        json={"sent_at": now_ms(), "context": ctx, "items": items})
    answer.raise_for_status()
    body = answer.json()
    assert body["rejected"] == [], body
    return body


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A 1280x900 page in its own context (``browser`` is Debian's Chromium, from conftest)."""
    page = dashboard_page(browser, console_errors=True)
    yield page
    page.context.close()


def text(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text()).strip()


def test_dashboard_shows_posted_numbers_and_live_updates(live_server: LiveServer,
                                                         page: Any) -> None:
    ts = now_ms() - 60_000
    post(live_server, [
        *(item("operation", ts + i, name="render", ms=ms)
          for i, ms in enumerate([10.0, 20.0, 30.0, 40.0])),
        item("operation", ts + 10, name="save", ms=120.0, ok=False),
        item("operation", ts + 11, name="save", ms=80.0, offline=True),
        item("error", ts + 12, category="runtime", kind="RuntimeError",
             message="unreachable executed", stack=WASM_STACK, operation="save"),
        item("bundle_load", ts + 13, total_ms=1500.0, cached=False, transfer_bytes=1 << 20),
        item("runtime_init", ts + 14, ms=320.0),
        item("memory", ts + 15, wasm_bytes=12 * 1024 * 1024),
        item("feature", ts + 16, name="export"),
    ], release="2.0.0")

    page.goto(f"{live_server.url}/dashboard#token={live_server.admin_token}")
    render = page.locator('#ops-table tr[data-op="render"]')
    render.wait_for()

    # the token left the address bar for localStorage
    assert "token" not in page.url
    assert page.evaluate("localStorage.getItem('wasmwatch.token')") == live_server.admin_token

    # operations table: name, count, errors, offline, p50, p95, p99, avg
    cells = [c.strip() for c in render.locator("td").all_inner_texts()]
    assert cells[:5] == ["render", "4", "0", "0", "25.0 ms"]
    assert cells[7] == "25.0 ms"
    save = [c.strip() for c in page.locator('#ops-table tr[data-op="save"] td').all_inner_texts()]
    assert save[:4] == ["save", "2", "1", "1"]
    assert page.locator("#ops-table tbody tr").first.get_attribute("data-op") == "render"

    # tiles: 1 error over 6 operations is over the 5 % budget; memory is over 10 MiB
    assert text(page, "#tile-events .value") == "11"
    assert text(page, '#tile-events li[data-type="operation"] b') == "6"
    assert text(page, "#tile-errors .value") == "16.7 %"
    assert "bad" in (page.locator("#tile-errors").get_attribute("class") or "")
    assert text(page, "#tile-runtime .value") == "320 ms"
    assert "ok" in (page.locator("#tile-runtime").get_attribute("class") or "")
    assert text(page, "#tile-memory .value") == "12.0 MiB / 12.0 MiB"
    assert "bad" in (page.locator("#tile-memory").get_attribute("class") or "")
    page.locator("#tile-bundle-first").wait_for()
    assert text(page, "#tile-bundle-first .value") == "1.50 s / 1.50 s"
    assert text(page, "#tile-operation .value") == "118 ms"  # save p95 of 80 and 120
    assert page.locator("#approx").is_hidden()

    # other tables, and the error group with its sample stack behind a click
    assert text(page, '#releases-table tr[data-release="2.0.0"] td:nth-child(2)') == "1"
    assert text(page, '#features-table tr[data-feature="export"] td:nth-child(2)') == "1"
    group = page.locator("#errors-table tr.group")
    group.wait_for()
    assert "parse_expr wasm-function[42]:0x1a2b" in group.inner_text()
    assert page.locator("#errors-table pre.stack").is_hidden()
    group.click()
    assert "eval_block" in text(page, "#errors-table pre.stack")

    # live: a batch sent now reaches the page over the stream
    page.wait_for_selector('#live[data-state="on"]')
    post(live_server, [item("operation", name="render", ms=5.0) for _ in range(3)], release="2.0.0")
    page.wait_for_function(
        """() => document.querySelector('#ops-table tr[data-op="render"] td:nth-child(2)')
                 ?.textContent.trim() === '7'""", timeout=15_000)
    assert text(page, "#rate") != "0 items/s"

    # a longer window is answered from the rollup and says so
    page.locator('#windows button[data-window="7d"]').click()
    page.wait_for_selector("#approx:not([hidden])")
    assert text(page, "#approx") == "approximate (±1 %)"
    assert page.problems == []  # type: ignore[attr-defined]


def test_dashboard_asks_for_the_token_again(live_server: LiveServer, page: Any) -> None:
    page.goto(f"{live_server.url}/dashboard#token=wrong")
    page.wait_for_selector("#login:not([hidden])")
    assert "not accepted" in text(page, "#login-error")
    assert page.evaluate("localStorage.getItem('wasmwatch.token')") is None
    page.fill("#token", live_server.admin_token)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_selector("#ops-table tr.empty")  # no data yet, and nothing blew up on nulls
    assert text(page, "#tile-runtime .value") == "—"
    assert text(page, "#tile-errors .value") == "0 %"
    page.reload()  # the token was kept
    page.wait_for_selector("#app:not([hidden])")
    problems = [p for p in page.problems if "401" not in p]  # type: ignore[attr-defined]
    assert problems == []


def drive_traffic(server: LiveServer, minutes: int = 60, seed: int = 7) -> None:
    """About an hour of a plausible app's telemetry from a few sessions and browsers."""
    rnd = random.Random(seed)
    now = now_ms()
    ops = {"render": (2.0, 0.45), "parse": (2.6, 0.5), "compile_query": (3.3, 0.45),
           "save": (3.0, 0.5), "search": (2.3, 0.6), "sync_pull": (3.6, 0.4)}
    errors = [("runtime", "RuntimeError", "unreachable executed", WASM_STACK, "parse"),
              ("runtime", "RuntimeError", "memory access out of bounds",
               WASM_STACK.replace("unreachable executed", "memory access out of bounds")
               .replace("parse_expr", "vec_push").replace("[42]:0x1a2b", "[88]:0x3f10"), "save"),
              ("application", "TypeError", "Cannot read properties of undefined (reading 'id')",
               "TypeError: Cannot read properties of undefined (reading 'id')\n"
               "    at renderList (http://localhost/app.js:212:19)", "render"),
              ("critical", "RuntimeError", "Maximum call stack size exceeded",
               WASM_STACK.replace("unreachable executed", "Maximum call stack size exceeded"),
               None)]
    agents = [CHROME_UA, CHROME_UA, FIREFOX_UA, SAFARI_UA]
    for session in range(24):
        start = now - rnd.randint(2, minutes) * 60_000
        release = "1.5.0" if start > now - 25 * 60_000 else "1.4.2"
        online = rnd.random() > 0.2
        cached = rnd.random() < 0.55
        items = [item("bundle_load", start, url="/app.wasm", cached=cached, streaming=True,
                      transfer_bytes=0 if cached else 1_830_000, decoded_bytes=4_200_000,
                      total_ms=rnd.uniform(140, 420) if cached else rnd.uniform(900, 1900)),
                 item("runtime_init", start + 300, ms=rnd.uniform(180, 430))]
        t, heap = start + 500, rnd.uniform(3.5, 5) * 2**20
        while t < now - 1000:
            name = rnd.choices(list(ops), weights=[8, 4, 2, 3, 4, 1])[0]
            mu, sigma = ops[name]
            failed = rnd.random() < 0.012
            items.append(item("operation", t, name=name, ms=rnd.lognormvariate(mu, sigma),
                              ok=not failed, offline=not online and rnd.random() < 0.7))
            if failed or rnd.random() < 0.004:
                cat, kind, msg, stack, op = rnd.choice(errors)
                items.append(item("error", t + 1, category=cat, kind=kind, message=msg,
                                  stack=stack, operation=op or name, memory_bytes=int(heap)))
            if rnd.random() < 0.05:
                heap = min(heap * rnd.uniform(1.0, 1.08), 9.5 * 2**20)
                items.append(item("memory", t + 2, wasm_bytes=int(heap), grow_count=2))
            if rnd.random() < 0.03:
                items.append(item("feature", t + 3, name=rnd.choice(
                    ["export_pdf", "share_link", "dark_mode", "offline_mode", "search"])))
            if not online and rnd.random() < 0.04:
                items.append(item("offline_sync", t + 4, synced=rnd.randint(1, 12),
                                  ms=rnd.uniform(80, 600), ok=rnd.random() > 0.08,
                                  pending=rnd.randint(0, 6)))
            if rnd.random() < 0.02:
                items.append(item("engagement", t + 5, visible_ms=rnd.uniform(20_000, 180_000),
                                  online=online, page="/editor"))
            t += int(rnd.expovariate(1 / 2500))
        for i in range(0, len(items), 1000):
            post(server, items[i:i + 1000], ua=rnd.choice(agents), release=release,
                 session=f"sess{session}", online=online)


def test_dashboard_screenshot(live_server: LiveServer, page: Any, tmp_path: Path) -> None:
    """Renders realistic traffic; with WASMWATCH_SCREENSHOT=1 saves docs/dashboard.png."""
    drive_traffic(live_server)
    page.goto(f"{live_server.url}/dashboard#token={live_server.admin_token}")
    page.locator('#ops-table tr[data-op="render"]').wait_for()
    page.locator("#errors-table tr.group").first.wait_for()
    page.wait_for_selector('#live[data-state="on"]')
    page.wait_for_function("document.querySelectorAll('.uplot').length === 4")
    post(live_server, [item("operation", name="render", ms=6.5) for _ in range(40)],
         release="1.5.0")
    page.wait_for_function("document.querySelector('#rate').textContent !== '0 items/s'")
    page.wait_for_timeout(2500)  # the throttled summary refresh after the live batch
    keep = os.environ.get("WASMWATCH_SCREENSHOT")
    out = ROOT / "docs" / "dashboard.png" if keep else tmp_path / "dashboard.png"
    page.screenshot(path=str(out))
    assert out.stat().st_size > 20_000
    assert page.problems == []  # type: ignore[attr-defined]
