"""How the SDK delivers: offline keeping and replay, page close, backoff on 429/503, sampling.
Real Chromium, a real `wasmwatch serve`, the page on another origin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import ROOT, open_harness, session_of, wait_for
from tests.browser.proxy import FlakyProxy
from tests.browser.scripts import BIG_BATCHES, STORED_ITEMS

pytestmark = pytest.mark.browser

Rows = Callable[..., list[dict[str, Any]]]



def test_offline_period_loses_nothing_and_stores_each_item_once(
        context: Any, harness_url: Callable[..., str], rows: Rows) -> None:
    """Operations done offline wait in IndexedDB and land exactly once when the browser is back."""
    page = open_harness(context, harness_url())
    session = session_of(page)
    context.set_offline(True)
    page.evaluate("""async () => {
      for (let i = 0; i < 30; i++) ww.track('offline_op', () => i)
      ww.feature('offline_feature')
      await ww.flush()
    }""")
    assert page.evaluate(STORED_ITEMS) >= 31
    page.wait_for_timeout(1500)  # ticks run while offline: nothing may leave
    assert rows(session=session) == []
    context.set_offline(False)
    ops = wait_for(lambda: rows(session=session, type="operation"), lambda r: len(r) >= 30)
    assert len(ops) == 30 and len({r["id"] for r in ops}) == 30
    assert all(r["offline"] is True for r in ops)
    left = wait_for(lambda: [page.evaluate(STORED_ITEMS)], lambda n: n == [0], timeout=5)
    assert left == [0], "replayed batches leave IndexedDB"
    page.evaluate("ww.flush()")
    page.wait_for_timeout(1200)
    got = rows(session=session)
    assert len([r for r in got if r["type"] == "operation"]) == 30, "stored exactly once"
    assert [r["name"] for r in got if r["type"] == "feature"] == ["offline_feature"]
    assert any(r["type"] == "engagement" and r["offline"] is True for r in got), "offline time counted"


def test_items_kept_offline_survive_closing_the_tab(context: Any, harness_url: Callable[..., str],
                                                    rows: Rows) -> None:
    """A tab closed while offline leaves its items in IndexedDB; the next page load sends them."""
    page = open_harness(context, harness_url())
    session = session_of(page)
    context.set_offline(True)
    page.evaluate("for (let i = 0; i < 20; i++) ww.track('closed_tab_op', () => i); ww.flush()")
    page.close()
    context.set_offline(False)
    later = context.new_page()
    later.goto(harness_url(auto="1"))
    ops = wait_for(lambda: rows(name="closed_tab_op"), lambda r: len(r) >= 20)
    assert len(ops) == 20 and len({r["id"] for r in ops}) == 20
    assert {r["session"] for r in ops} == {session}, "a kept batch keeps its own context"


def test_closing_the_page_delivers_pending_items(context: Any, harness_url: Callable[..., str],
                                                 rows: Rows) -> None:
    """Items queued when the tab closes go out on page hide (beacon), not lost with the page."""
    page = open_harness(context, harness_url())  # flushInterval 60 s: nothing goes by itself
    session = session_of(page)
    page.evaluate("for (let i = 0; i < 10; i++) ww.track('pending_op', () => i)")
    page.wait_for_timeout(300)
    assert rows(session=session) == []
    page.close()
    got = wait_for(lambda: rows(session=session), lambda r: len(r) >= 11)
    assert len([r for r in got if r["type"] == "operation"]) == 10
    engagement = [r for r in got if r["type"] == "engagement"]
    assert engagement and engagement[0]["ms"] > 0 and engagement[0]["offline"] is False


def test_consecutive_large_batches_all_arrive(context: Any, harness_url: Callable[..., str],
                                             rows: Rows) -> None:
    """Batches of tens of KB gzipped, one after another, all go: keepalive requests give back
    their share of the browser's 64 KB keepalive quota."""
    page = open_harness(context, harness_url(), {"batchSize": 25})
    session = session_of(page)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.headers.get("content-encoding", ""))
            if r.method == "POST" else None)
    page.evaluate(BIG_BATCHES)
    assert page.evaluate(STORED_ITEMS) == 0, "no batch failed and had to wait in IndexedDB"
    assert posts == ["gzip"] * 4
    got = wait_for(lambda: rows(session=session, type="measurement"), lambda r: len(r) >= 100)
    assert len(got) == 100


def test_429_and_503_are_backed_off_and_retried(context: Any, harness_url: Callable[..., str],
                                                rows: Rows, live_server: Any) -> None:
    """The SDK waits out Retry-After, then retries the same items until the server takes them."""
    with FlakyProxy(live_server.url, plan=[(429, 1), (503, 1)]) as proxy:
        page = open_harness(context, harness_url(endpoint=proxy.url))
        session = session_of(page)
        page.evaluate("for (let i = 0; i < 20; i++) ww.track('retried_op', () => i); ww.flush()")
        ops = wait_for(lambda: rows(session=session, type="operation"), lambda r: len(r) >= 20, timeout=20)
        attempts = proxy.settled()
    assert [a.status for a in attempts[:3]] == [429, 503, 200]
    assert attempts[1].at - attempts[0].at >= 1.0, "Retry-After: 1 honoured"
    assert attempts[2].at - attempts[1].at >= 1.0
    assert attempts[0].ids == attempts[1].ids == attempts[2].ids, "same item ids on every retry"
    assert attempts[2].encoding == "gzip", "a batch over 1 KB goes gzipped (CORS preflight passed)"
    assert sorted(r["id"] for r in ops) == sorted(attempts[0].ids)


def test_sampling_is_decided_per_session(context: Any, harness_url: Callable[..., str], rows: Rows) -> None:
    """sampleRate 0 sends nothing and wraps nothing; 1 sends; 0.5 keeps some tabs, not all."""
    off = open_harness(context, harness_url(), {"sampleRate": 0})
    assert off.evaluate("WebAssembly.instantiate.toString().includes('native code')") is True
    off.evaluate("ww.feature('rate_0'); ww.flush()")
    on = open_harness(context, harness_url(), {"sampleRate": 1})
    assert on.evaluate("WebAssembly.instantiate.toString().includes('native code')") is False
    on.evaluate("ww.feature('rate_1'); ww.flush()")
    half = [open_harness(context, harness_url(), {"sampleRate": 0.5}) for _ in range(16)]
    for page in half:
        page.evaluate("ww.feature('rate_half'); ww.flush()")
    wait_for(lambda: rows(type="feature", name="rate_1"), bool)
    on.wait_for_timeout(800)
    assert rows(type="feature", name="rate_0") == []
    kept = {r["session"] for r in rows(type="feature", name="rate_half")}
    assert 1 <= len(kept) <= 15, len(kept)
    assert kept <= {session_of(p) for p in half}


def test_demo_page_sends_data_on_its_own(context: Any, live_server: Any, rows: Rows) -> None:
    """The demo, served by wasmwatch itself, loads the SDK and its module and traffic arrives."""
    if not (ROOT / "wasmwatch" / "web" / "static" / "demo" / "index.html").is_file():
        pytest.fail("the demo is not in wasmwatch/web/static/demo: run `make install`")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_server.url + "/demo/")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('module loaded')")
    page.click("#trap")
    got = wait_for(lambda: rows(release="demo-1"),
                   lambda r: {"bundle_load", "runtime_init", "operation", "error"} <= {x["type"] for x in r},
                   timeout=15)
    types = {r["type"] for r in got}
    assert {"bundle_load", "runtime_init", "operation", "error"} <= types, types
    load = next(r for r in got if r["type"] == "bundle_load")
    assert load["name"].endswith("/demo/demo.wasm") and load["streaming"] is True
    trap = next(r for r in got if r["type"] == "error" and r["name"] == "divide")
    assert trap["kind"] == "divide_by_zero" and trap["frame"].startswith("divide wasm-function[")
    assert errors == []
