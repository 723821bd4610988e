"""The same test bodies in Chromium, Firefox and WebKit (tests/browser/engines.py drives each):
a multi-megabyte module loaded through each toolchain's loader and each WebAssembly API is
recorded once, traps arrive with kind and frame, items kept through an outage land once, and
the app-facing API lands as its items. A real `wasmwatch serve`, the page on another origin."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import engines
from tests.browser.conftest import _Handler, load_each_api, session_of, wait_for
from tests.browser.proxy import FlakyProxy
from tests.browser.scripts import BIG_BATCHES, STORED_ITEMS

pytestmark = pytest.mark.browser

Rows = Callable[..., list[dict[str, Any]]]
Open = Callable[[str], engines.Tab]


@pytest.fixture(scope="module", params=engines.ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[engines.Engine]:
    name = str(request.param)
    if name == "chromium":
        yield engines.Chromium(request.getfixturevalue("browser"))
        return
    if engines.missing(name):
        pytest.fail(f"{', '.join(engines.missing(name))} missing: run `make browser-deps`")
    e = engines.launch(name)
    yield e
    e.quit()


@pytest.fixture
def open_tab(engine: engines.Engine) -> Iterator[Open]:
    """open_tab(url): a tab with fresh storage, closed after the test."""
    tabs: list[engines.Tab] = []

    def make(url: str) -> engines.Tab:
        tabs.append(engine.open(url))
        return tabs[-1]

    yield make
    for t in tabs:
        t.close()  # a no-op for a tab the test closed itself


def harness(open_tab: Open, harness_url: Callable[..., str], init: dict[str, Any] | None = None,
            **params: str) -> engines.Tab:
    tab = open_tab(harness_url(**params))
    tab.evaluate("o => harness.init(o)", init or {})
    return tab


def big_size() -> int:
    return Path(_Handler.big).stat().st_size


def test_toolchain_loaders_record_a_big_module_once(engine: engines.Engine, open_tab: Open,
                                                     live_server: Any, page_server: Any, rows: Rows) -> None:
    """A 4 MB module loaded by Emscripten's or wasm-bindgen's loading code (streaming, or its
    fallback to instantiate when the MIME type is wrong) is one bundle_load with its sizes."""
    cases = {}
    for loader in ("emscripten", "wasm-bindgen"):
        for mime in ("application/wasm", "wrong-mime"):
            wasm = f"/big-{loader}" + ("-wrong-mime.wasm" if mime == "wrong-mime" else ".wasm")
            tab = open_tab(f"{page_server.url}/loaders.html?endpoint={live_server.url}&key={live_server.key}")
            assert tab.evaluate("a => loaders.run(a[0], a[1])", [loader, wasm]) == 42
            tab.evaluate("new Promise(r => setTimeout(r, 300)).then(() => ww.flush())")
            cases[session_of(tab)] = (wasm, mime == "application/wasm", tab)
    wait_for(lambda: rows(type="bundle_load"), lambda r: len(r) >= 4)
    for _, _, tab in cases.values():
        tab.evaluate("ww.flush()")
    got = wait_for(lambda: rows(type="bundle_load"), lambda r: len(r) > 4, timeout=1)
    assert sorted(cases[r["session"]][0] for r in got) == sorted(w for w, _, _ in cases.values()), (
        "one bundle_load per load")
    for load in got:
        wasm, streaming, _ = cases[load["session"]]
        assert load["name"].endswith(wasm)
        assert load["streaming"] is streaming, load
        assert load["decoded_bytes"] == big_size()
        assert load["compile_ms"] is not None and load["instantiate_ms"] is not None
        assert load["ms"] >= load["compile_ms"] + load["instantiate_ms"] - 1
    assert rows(type="error") == [], "a handled MIME fallback is no error"


def test_each_webassembly_api_records_a_big_module_once(engine: engines.Engine, open_tab: Open,
                                                        harness_url: Callable[..., str], rows: Rows) -> None:
    """The 4 MB module through each of the four APIs: one bundle_load each, streaming or not."""
    apis = ("instantiateStreaming", "compileStreaming", "instantiate", "compile")
    sessions = load_each_api(lambda: harness(open_tab, harness_url), apis, "/big-{api}.wasm",
                             "new Promise(r => setTimeout(r, 300)).then(() => ww.flush())", "add")
    loads = wait_for(lambda: rows(type="bundle_load"), lambda r: len(r) >= 4)
    assert sorted(sessions[r["session"]] for r in loads) == sorted(apis)
    for row in loads:
        api = sessions[row["session"]]
        assert row["name"].endswith(f"/big-{api}.wasm")
        assert row["streaming"] is api.endswith("Streaming")
        assert row["decoded_bytes"] == big_size()
    memory = wait_for(lambda: rows(type="memory"), lambda r: len(r) >= 4)
    assert {r["value"] for r in memory} == {(big_size() // 65536 + 1) * 65536}


def test_traps_arrive_with_kind_and_frame(engine: engines.Engine, open_tab: Open,
                                          harness_url: Callable[..., str], rows: Rows) -> None:
    """Each trap of the demo module: its kind from this engine's message, its innermost wasm
    frame from this engine's stack format (WebKit prints no byte offset), its operation."""
    tab = harness(open_tab, harness_url)
    tab.evaluate("harness.load('instantiateStreaming')")
    traps = {"divide": ([1, 0], "divide_by_zero", "divide"), "crash": ([], "unreachable", "fail_deeper"),
             "peek": ([1 << 30], "memory_out_of_bounds", "peek"), "recurse": ([0], "stack_overflow", "recurse"),
             "bad_call": ([], "indirect_call_mismatch", "bad_call")}
    for name, (args, _, _) in traps.items():
        thrown = tab.evaluate("a => harness.call(...a)", [name, *args])
        assert thrown["name"] in ("RuntimeError", "RangeError", "InternalError"), thrown
    tab.evaluate("WebAssembly.instantiate(new Uint8Array([1, 2, 3, 4])).catch(() => 0)")
    tab.evaluate("ww.flush()")
    sid = session_of(tab)
    errors = wait_for(lambda: rows(type="error", session=sid), lambda r: len(r) >= 6)
    by_kind = {r["kind"]: r for r in errors}
    offset = "" if engine.name == "webkit" else r":0x[0-9a-f]+"
    for name, (_, kind, fn) in traps.items():
        row = by_kind[kind]
        assert (row["category"], row["name"]) == ("runtime", name), row
        assert re.fullmatch(rf"{fn} wasm-function\[\d+\]{offset}", row["frame"]), row["frame"]
        assert row["value"] == 65536, "WASM memory at the time of the error"
    assert by_kind["CompileError"]["category"] == "critical"


def test_items_kept_through_an_outage_land_exactly_once(engine: engines.Engine, open_tab: Open,
                                                        harness_url: Callable[..., str], rows: Rows,
                                                        live_server: Any) -> None:
    """Items sent while the network drops every request wait in IndexedDB and land once, with
    their ids, when it is back. Firefox over BiDi and WebKitWebDriver cannot take the browser
    offline (Playwright's set_offline is Chromium's, see test_delivery), so here the network
    fails the same way in every engine: a proxy that drops each ingest connection unanswered."""
    with FlakyProxy(live_server.url, plan=[]) as proxy:
        proxy.down = True
        tab = harness(open_tab, harness_url, endpoint=proxy.url)
        sid = session_of(tab)
        tab.evaluate("""async () => {
          for (let i = 0; i < 30; i++) ww.track('outage_op', () => i)
          ww.feature('outage_feature')
          await ww.flush()
        }""")
        kept = wait_for(lambda: [tab.evaluate(STORED_ITEMS)], lambda n: n[0] >= 31, timeout=10)
        assert kept[0] >= 31, "the failed batch waits in IndexedDB"
        assert any(a.status == 0 for a in proxy.settled())
        assert rows(session=sid) == []
        proxy.down = False
        ops = wait_for(lambda: rows(session=sid, type="operation"), lambda r: len(r) >= 30, timeout=20)
        left = wait_for(lambda: [tab.evaluate(STORED_ITEMS)], lambda n: n == [0], timeout=10)
        tab.evaluate("ww.flush()")
        tab.evaluate("new Promise(r => setTimeout(r, 1200))")
    assert len(ops) == 30 and len({r["id"] for r in ops}) == 30
    assert left == [0], "replayed batches leave IndexedDB"
    got = rows(session=sid)
    assert len([r for r in got if r["type"] == "operation"]) == 30, "stored exactly once"
    assert [r["name"] for r in got if r["type"] == "feature"] == ["outage_feature"]
    delivered = [a for a in proxy.settled() if a.status == 200]
    assert sorted(i for a in delivered for i in a.ids if i in {r["id"] for r in ops}) == sorted(
        r["id"] for r in ops), "each item was delivered once"


def test_the_app_facing_api_lands_in_every_engine(engine: engines.Engine, open_tab: Open,
                                                  harness_url: Callable[..., str], rows: Rows) -> None:
    """track, feature, measure, offlineSync, error and uncaught errors land as their items;
    js_heap_bytes is there only where the engine reports a JS heap (Chromium)."""
    tab = harness(open_tab, harness_url)
    tab.evaluate("harness.load('instantiateStreaming')")
    out = tab.evaluate("""async () => {
      const out = { sync: ww.track('sync_op', () => 42) }
      out.async = await ww.track('async_op', () => new Promise(r => setTimeout(() => r('v'), 30)))
      const err = new TypeError('bad input')
      try { ww.track('throws', () => { throw err }) } catch (e) { out.same = e === err }
      ww.feature('export')
      ww.measure('fps', 59.5, { scene: 'editor' }, 'fps')
      ww.offlineSync({ synced: 3, ms: 40 })
      ww.error(new Error('handled by the app'), { operation: 'save' })
      setTimeout(() => { throw new RangeError('uncaught in a timer') })
      Promise.reject(new Error('nobody caught me'))
      wasm.grow(1)
      await new Promise(r => setTimeout(r, 200))
      out.metrics = ww.getCurrentMetrics()
      await ww.flush()
      return out
    }""")
    assert (out["sync"], out["async"], out["same"]) == (42, "v", True)
    assert out["metrics"]["runtime"]["wasm_memory"] == 2 * 65536
    sid = session_of(tab)
    want = {"operation": 4, "error": 4, "feature": 1, "measurement": 1, "offline_sync": 1}

    def complete(r: list[dict[str, Any]]) -> bool:
        return {t: sum(x["type"] == t for x in r) for t in want} == want and any(
            x["type"] == "memory" and x["value"] == 2 * 65536 for x in r)

    got = wait_for(lambda: rows(session=sid), complete)
    assert complete(got), got
    errors = {r["message"]: r for r in got if r["type"] == "error"}
    assert errors["bad input"]["kind"] == "TypeError" and errors["bad input"]["name"] == "throws"
    assert errors["handled by the app"]["name"] == "save"
    assert errors["uncaught in a timer"]["kind"] == "RangeError"
    assert errors["nobody caught me"]["kind"] == "Error"
    ops = {r["name"]: r for r in got if r["type"] == "operation"}
    assert ops["async_op"]["ms"] >= 25
    memory = next(r for r in got if r["type"] == "memory" and r["value"] == 2 * 65536)
    assert (memory["js_heap_bytes"] is not None) is (engine.name == "chromium"), memory


def test_closing_the_tab_beacons_pending_items(engine: engines.Engine, open_tab: Open,
                                               harness_url: Callable[..., str], rows: Rows) -> None:
    """Items queued when the tab closes go out on page hide through sendBeacon. WebKitWebDriver
    closes its only tab by ending the browser process, which can take an unsent beacon with it
    (a browser that stays up, as Safari does, sends it): there the page is left by navigating
    away, which fires the same pagehide."""
    tab = harness(open_tab, harness_url)  # flushInterval 60 s: nothing goes by itself
    sid = session_of(tab)
    tab.evaluate("for (let i = 0; i < 10; i++) ww.track('pending_op', () => i)")
    tab.evaluate("new Promise(r => setTimeout(r, 300))")
    assert rows(session=sid) == []
    if engine.name == "webkit":
        tab.goto("about:blank")
    else:
        tab.close()
    got = wait_for(lambda: rows(session=sid), lambda r: len(r) >= 11)
    assert len([r for r in got if r["type"] == "operation"]) == 10
    assert any(r["type"] == "engagement" and r["ms"] > 0 for r in got)


def test_large_batches_go_gzipped_one_after_another(engine: engines.Engine, open_tab: Open,
                                                    harness_url: Callable[..., str], rows: Rows,
                                                    live_server: Any) -> None:
    """Batches of tens of KB, gzipped where the engine has CompressionStream, all arrive and
    none waits in IndexedDB: keepalive requests give back their share of the 64 KB quota."""
    with FlakyProxy(live_server.url, plan=[]) as proxy:
        tab = harness(open_tab, harness_url, {"batchSize": 25}, endpoint=proxy.url)
        sid = session_of(tab)
        tab.evaluate(BIG_BATCHES)
        assert tab.evaluate(STORED_ITEMS) == 0, "no batch failed and had to wait in IndexedDB"
        got = wait_for(lambda: rows(session=sid, type="measurement"), lambda r: len(r) >= 100)
    assert len(got) == 100
    assert [(a.status, a.encoding) for a in proxy.settled()] == [(200, "gzip")] * 4


def test_first_load_then_cached_reload(engine: engines.Engine, open_tab: Open,
                                       harness_url: Callable[..., str], rows: Rows) -> None:
    """The first load of the big module comes over the network, the second from the HTTP cache,
    and Resource Timing tells them apart. WebKitGTK's automation session keeps no HTTP cache:
    there the module is fetched again (the page server sees it) and rightly not `cached`."""
    _Handler.wasm_hits.clear()
    url = harness_url(auto="1", wasm="/big-cache.wasm")
    tab = open_tab(url)
    tab.evaluate("ready.then(() => new Promise(r => setTimeout(r, 300))).then(() => ww.flush())")
    tab.goto(url)
    tab.evaluate("ready.then(() => new Promise(r => setTimeout(r, 300))).then(() => ww.flush())")
    sid = session_of(tab)
    loads = wait_for(lambda: rows(type="bundle_load", session=sid), lambda r: len(r) >= 2)
    fetched = _Handler.wasm_hits.count("/big-cache.wasm")
    assert fetched == (2 if engine.name == "webkit" else 1)
    assert [r["cached"] for r in loads] == [False, fetched == 1], loads
    if fetched == 1:
        assert loads[1]["transfer_bytes"] < loads[0]["transfer_bytes"]
    assert loads[0]["decoded_bytes"] == loads[1]["decoded_bytes"] == big_size()


def test_429_and_503_are_backed_off_and_retried(engine: engines.Engine, open_tab: Open,
                                                harness_url: Callable[..., str], rows: Rows,
                                                live_server: Any) -> None:
    """Retry-After is read (CORS-exposed) and waited out; the same ids go again until stored."""
    with FlakyProxy(live_server.url, plan=[(429, 1), (503, 1)]) as proxy:
        tab = harness(open_tab, harness_url, endpoint=proxy.url)
        sid = session_of(tab)
        tab.evaluate("for (let i = 0; i < 20; i++) ww.track('retried_op', () => i); ww.flush()")
        ops = wait_for(lambda: rows(session=sid, type="operation"), lambda r: len(r) >= 20, timeout=20)
        attempts = proxy.settled()
    assert [a.status for a in attempts[:3]] == [429, 503, 200]
    assert attempts[1].at - attempts[0].at >= 1.0 and attempts[2].at - attempts[1].at >= 1.0
    assert attempts[0].ids == attempts[1].ids == attempts[2].ids
    assert sorted(r["id"] for r in ops) == sorted(attempts[0].ids)


def test_error_storm_is_capped_and_the_sdk_never_throws(engine: engines.Engine, open_tab: Open,
                                                        harness_url: Callable[..., str], rows: Rows) -> None:
    """40 identical traps make a handful of error items (every failed call still counts), and
    garbage in every API call raises nothing in the page."""
    tab = harness(open_tab, harness_url)
    tab.evaluate("harness.load('instantiateStreaming')")
    out = tab.evaluate("""async () => {
      const thrown = []
      window.addEventListener('error', e => thrown.push(String(e.message)))
      window.addEventListener('unhandledrejection', e => thrown.push(String(e.reason)))
      for (let i = 0; i < 40; i++) harness.call('divide', i, 0)
      ww.error(); ww.error(null); ww.feature({}); ww.offlineSync(null); ww.measure('x', NaN)
      ww.runtimeReady('no such mark'); ww.gc({ count: 'x' }); ww.wrapExports(7)
      window.dispatchEvent(new CustomEvent('wasm-error', { detail: 3 }))
      window.dispatchEvent(new CustomEvent('wasm-operation'))
      const count = ww.getCurrentMetrics().runtime.error_count
      await ww.flush(); await new Promise(r => setTimeout(r, 200))
      return { thrown, count, t: ww.track('t', 5) }
    }""")
    assert out["thrown"] == [] and out["t"] == 5
    assert out["count"] >= 40
    sid = session_of(tab)
    ops = wait_for(lambda: rows(session=sid, type="operation", name="divide"), lambda r: len(r) >= 40)
    assert len(ops) == 40 and all(r["ok"] is False for r in ops)
    traps = [r for r in rows(session=sid, type="error") if r["kind"] == "divide_by_zero"]
    assert 1 <= len(traps) <= 5
