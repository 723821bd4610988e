"""What the SDK measures by itself after init(), checked where it lands: in a real
`wasmwatch serve`, with the page on another origin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import DEMO_DIST, load_each_api, open_harness, session_of, wait_for

pytestmark = pytest.mark.browser

APIS = ("instantiateStreaming", "compileStreaming", "instantiate", "compile")
Rows = Callable[..., list[dict[str, Any]]]


def test_each_webassembly_api_is_instrumented(context: Any, harness_url: Callable[..., str],
                                              rows: Rows) -> None:
    """A module loaded with each of the four APIs yields one bundle_load with its timings."""
    size = (DEMO_DIST / "demo.wasm").stat().st_size
    sessions = load_each_api(lambda: open_harness(context, harness_url()), APIS, "/demo-{api}.wasm",
                             "ww.flush()", "divide")
    loads = wait_for(lambda: rows(type="bundle_load"), lambda r: len(r) >= 4)
    assert sorted(sessions[r["session"]] for r in loads) == sorted(APIS)
    for row in loads:
        api = sessions[row["session"]]
        assert row["name"].endswith(f"/demo-{api}.wasm")
        assert row["streaming"] is api.endswith("Streaming")
        assert row["cached"] is False
        assert row["decoded_bytes"] == size
        assert row["transfer_bytes"] >= size
        assert row["fetch_ms"] is not None and row["fetch_ms"] >= 0
        assert row["compile_ms"] is not None and row["instantiate_ms"] is not None
        assert row["ms"] >= row["compile_ms"] + row["instantiate_ms"] - 0.5
        assert row["page"] == "/harness.html"
        assert row["release"] == "test-1"
    ops = wait_for(lambda: rows(type="operation", name="add"), lambda r: len(r) >= 4)
    assert {r["session"] for r in ops} == set(sessions)
    assert all(r["ok"] is True and r["offline"] is False for r in ops)
    memory = wait_for(lambda: rows(type="memory"), lambda r: len(r) >= 4)
    assert {r["value"] for r in memory} == {65536}


def test_first_load_then_cached_reload(context: Any, harness_url: Callable[..., str], rows: Rows) -> None:
    """The first load of a module comes over the network; the reload from the HTTP cache."""
    url = harness_url(auto="1", wasm="/demo-cache.wasm")
    page = context.new_page()
    page.goto(url)
    page.evaluate("ready.then(() => ww.flush())")
    page.reload()
    page.evaluate("ready.then(() => ww.flush())")
    session = session_of(page)
    loads = wait_for(lambda: rows(type="bundle_load", session=session), lambda r: len(r) >= 2)
    assert [r["cached"] for r in loads] == [False, True], loads
    assert loads[1]["transfer_bytes"] < loads[0]["transfer_bytes"]
    assert loads[1]["decoded_bytes"] == loads[0]["decoded_bytes"]


def test_traps_arrive_with_kind_frames_and_context(context: Any, harness_url: Callable[..., str],
                                                   rows: Rows) -> None:
    """Each trap of the demo module is stored with its kind, top wasm frame and operation."""
    page = open_harness(context, harness_url())
    page.evaluate("harness.load('instantiateStreaming')")
    traps = {"divide": ([1, 0], "divide_by_zero"), "crash": ([], "unreachable"),
             "peek": ([1 << 30], "memory_out_of_bounds"), "recurse": ([0], "stack_overflow"),
             "bad_call": ([], "indirect_call_mismatch")}
    for name, (args, _) in traps.items():
        thrown = page.evaluate("a => harness.call(...a)", [name, *args])
        assert thrown["name"] in ("RuntimeError", "RangeError"), thrown
    page.evaluate("WebAssembly.instantiate(new Uint8Array([1, 2, 3, 4])).catch(() => 0)")
    page.evaluate("ww.flush()")
    session = session_of(page)
    errors = wait_for(lambda: rows(type="error", session=session), lambda r: len(r) >= 6)
    by_kind = {r["kind"]: r for r in errors}
    for name, (_, kind) in traps.items():
        row = by_kind[kind]
        assert row["category"] == "runtime"
        assert row["name"] == name, "the operation the trap happened in"
        assert row["frame"].startswith("wasm-function[") or " wasm-function[" in row["frame"]
        assert row["value"] == 65536, "WASM memory at the time of the error"
        assert row["fingerprint"]
    assert by_kind["divide_by_zero"]["frame"].startswith("divide wasm-function[")
    assert by_kind["unreachable"]["frame"].startswith("fail_deeper wasm-function["), "innermost frame"
    assert by_kind["CompileError"]["category"] == "critical"
    failed = rows(type="operation", session=session)
    assert {r["name"] for r in failed if r["ok"] is False} == set(traps)


def test_error_storm_is_capped(context: Any, harness_url: Callable[..., str], rows: Rows) -> None:
    """A trap repeated 40 times becomes a handful of error items; every failed call still counts."""
    page = open_harness(context, harness_url())
    page.evaluate("harness.load('instantiateStreaming')")
    page.evaluate("for (let i = 0; i < 40; i++) harness.call('divide', i, 0)")
    assert page.evaluate("ww.getCurrentMetrics().runtime.error_count") == 40
    page.evaluate("ww.flush()")
    session = session_of(page)
    ops = wait_for(lambda: rows(type="operation", session=session), lambda r: len(r) >= 40)
    assert len(ops) == 40 and all(r["ok"] is False for r in ops)
    errors = rows(type="error", session=session)
    assert 1 <= len(errors) <= 5


def test_track_errors_and_the_app_facing_api(context: Any, harness_url: Callable[..., str],
                                             rows: Rows) -> None:
    """track() passes values and errors through unchanged; every API call lands as its item type."""
    page = open_harness(context, harness_url())
    page.evaluate("harness.load('instantiateStreaming')")
    result = page.evaluate("""async () => {
      const out = {}
      out.sync = ww.track('sync_op', () => 42)
      out.async = await ww.track('async_op', () => new Promise(r => setTimeout(() => r('v'), 30)))
      const err = new TypeError('bad input')
      try { ww.track('throws', () => { throw err }) } catch (e) { out.same = e === err }
      try { await ww.track('rejects', async () => { throw err }) } catch (e) { out.sameAsync = e === err }
      ww.runtimeReady()
      ww.feature('export'); ww.feature('export')
      ww.measure('fps', 59.5, { scene: 'editor' }, 'fps')
      ww.offlineSync({ synced: 3, ms: 40, conflicts: 1, pending: 2 })
      ww.offlineSync({ synced: 0, ok: false })
      ww.error(new Error('handled by the app'), { operation: 'save' })
      wasm.grow(2)
      ww.gc({ count: 2, ms: 5.5 })
      out.metrics = ww.getCurrentMetrics()
      await ww.flush()
      return out
    }""")
    assert result["sync"] == 42 and result["async"] == "v"
    assert result["same"] is True and result["sameAsync"] is True
    metrics = result["metrics"]
    assert set(metrics) == {"runtime", "performance", "business", "collected_at"}
    assert metrics["runtime"]["operation_count"] == 5  # sync, async, throws, rejects, grow
    assert metrics["runtime"]["error_count"] == 2
    assert metrics["business"]["feature_usage"] == {"export": 2}
    assert metrics["performance"]["sync_success_rate"] == 0.5
    assert metrics["performance"]["average_operation_time"] > 0
    assert metrics["runtime"]["wasm_memory"] == 3 * 65536
    session = session_of(page)
    expected = {"operation": 5, "error": 2, "runtime_init": 1, "feature": 2, "measurement": 1,
                "offline_sync": 2}

    def complete(r: list[dict[str, Any]]) -> bool:
        counts = {t: sum(x["type"] == t for x in r) for t in expected}
        return counts == expected and any(x["type"] == "memory" and x["gc_count"] for x in r)

    got = wait_for(lambda: rows(session=session), complete)
    assert complete(got), got
    ops = {r["name"]: r for r in got if r["type"] == "operation"}
    assert ops["sync_op"]["ok"] is True and ops["async_op"]["ms"] >= 25
    assert ops["throws"]["ok"] is False and ops["rejects"]["ok"] is False
    errors = {r["name"]: r for r in got if r["type"] == "error"}
    assert errors["throws"]["kind"] == "TypeError" and errors["throws"]["category"] == "application"
    assert errors["save"]["message"] == "handled by the app"
    assert "rejects" not in errors, "the same error object is reported once"
    assert [r["name"] for r in got if r["type"] == "feature"] == ["export", "export"]
    measure = next(r for r in got if r["type"] == "measurement")
    assert (measure["name"], measure["value"], measure["unit"]) == ("fps", 59.5, "fps")
    syncs = sorted((r["synced"], r["ok"]) for r in got if r["type"] == "offline_sync")
    assert syncs == [(0, False), (3, True)]
    memory = next(r for r in got if r["type"] == "memory" and r["gc_count"])
    assert memory["value"] == 3 * 65536
    assert memory["grow_count"] >= 1
    assert (memory["gc_count"], memory["gc_ms"]) == (2, 5.5)


def test_uncaught_errors_and_rejections_are_captured(context: Any, harness_url: Callable[..., str],
                                                     rows: Rows) -> None:
    """window error and unhandledrejection become error items; a tracked error is not doubled."""
    page = open_harness(context, harness_url())
    page.evaluate("""() => {
      setTimeout(() => { throw new RangeError('uncaught in a timer') })
      Promise.reject(new Error('nobody caught me'))
      Promise.reject('a plain string')
      setTimeout(() => ww.track('tracked_uncaught', () => { throw new SyntaxError('once only') }))
    }""")
    page.wait_for_timeout(200)
    page.evaluate("ww.flush()")
    session = session_of(page)
    errors = wait_for(lambda: rows(type="error", session=session), lambda r: len(r) >= 4)
    kinds = sorted((r["kind"], r["message"]) for r in errors)
    assert kinds == [("Error", "nobody caught me"), ("RangeError", "uncaught in a timer"),
                     ("SyntaxError", "once only"), ("UnhandledRejection", "a plain string")]
    assert all(r["category"] == "application" for r in errors)


def test_seed_dom_events_feed_the_same_records(context: Any, harness_url: Callable[..., str],
                                               rows: Rows) -> None:
    """The seed's window events land as items; a slow operation is sent without waiting."""
    page = open_harness(context, harness_url())
    page.evaluate("""() => {
      const fire = (type, detail) => window.dispatchEvent(new CustomEvent(type, { detail }))
      fire('wasm-bundle-loaded', { duration: 1234 })
      fire('wasm-runtime-ready', { duration: 321 })
      fire('wasm-feature-used', { feature: 'offline_mode' })
      fire('wasm-error', { message: 'AtomVM process crashed', stack: 'Error\\n at x', operation: 'create_post' })
      fire('wasm-operation', { type: 'create_post', duration: 1500, offline: true, expected: 100 })
    }""")
    # flushInterval is 60 s in the harness: the slow operation (and the queue) go out at once.
    session = session_of(page)
    got = wait_for(lambda: rows(session=session), lambda r: len(r) >= 5, timeout=5)
    by_type = {r["type"]: r for r in got}
    assert by_type["bundle_load"]["ms"] == 1234
    assert by_type["runtime_init"]["ms"] == 321
    assert by_type["feature"]["name"] == "offline_mode"
    assert (by_type["error"]["category"], by_type["error"]["name"]) == ("runtime", "create_post")
    op = by_type["operation"]
    assert (op["name"], op["ms"], op["offline"], op["expected_ms"]) == ("create_post", 1500, True, 100)
    metrics = page.evaluate("ww.getCurrentMetrics()")
    assert metrics["performance"]["bundle_load_time"] == 1234
    assert metrics["runtime"]["initialization_time"] == 321
    assert metrics["performance"]["offline_operations"] == 1
    assert metrics["performance"]["average_operation_time"] == 1500
    assert metrics["business"]["feature_usage"] == {"offline_mode": 1}


def test_nothing_before_init_and_shutdown_restores(context: Any, harness_url: Callable[..., str],
                                                   rows: Rows, live_server: Any) -> None:
    """Before init() the SDK is a no-op; shutdown() puts the WebAssembly functions back."""
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(harness_url())
    before = page.evaluate("""async () => {
      window.orig = ['compile', 'instantiate', 'compileStreaming', 'instantiateStreaming'].map(k => WebAssembly[k])
      const same = () => window.orig.every((f, i) => f === WebAssembly[
        ['compile', 'instantiate', 'compileStreaming', 'instantiateStreaming'][i]])
      window.same = same
      const out = { value: WasmWatch.track('x', () => 7), untouched: same() }
      WasmWatch.feature('ignored'); WasmWatch.error(new Error('ignored'))
      await WasmWatch.flush()
      out.noInit = WasmWatch.init(undefined) === WasmWatch.getClient()
      return out
    }""")
    assert before == {"value": 7, "untouched": True, "noInit": True}
    assert not [u for u in requests if u.startswith(live_server.url)], "no traffic before init()"
    page.evaluate("harness.init()")
    assert page.evaluate("same()") is False
    page.evaluate("harness.load('instantiate')")
    page.evaluate("ww.feature('before_shutdown')")
    assert page.evaluate("ww.shutdown().then(() => same())") is True
    page.evaluate("harness.load('instantiateStreaming', '/demo-after.wasm')")
    page.evaluate("WasmWatch.feature('after_shutdown'); ww.flush()")
    session = session_of(page)
    got = wait_for(lambda: rows(session=session), lambda r: any(x["type"] == "feature" for x in r))
    page.wait_for_timeout(500)
    got = rows(session=session)
    assert [r["name"] for r in got if r["type"] == "feature"] == ["before_shutdown"]
    loaded = next(u for u in requests if u.endswith("/demo.wasm"))
    # the module's host is 127.0.0.1 here: loopback identifies no one and is kept by the scrubber
    assert [r["name"] for r in got if r["type"] == "bundle_load"] == [loaded]


def test_sdk_never_throws_into_the_page(context: Any, harness_url: Callable[..., str]) -> None:
    """Garbage in every API call is swallowed; track still runs what it is given."""
    page = open_harness(context, harness_url())
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    out = page.evaluate("""async () => {
      const r = []
      ww.error(); ww.error(null); ww.error(undefined, 5); ww.feature(); ww.feature({})
      ww.offlineSync(); ww.offlineSync(null); ww.measure(); ww.measure('x', NaN); ww.measure('x', 1, 7)
      ww.runtimeReady({}); ww.runtimeReady('no such mark'); ww.gc(null); ww.gc({ count: 'x' })
      ww.wrapExports(null); ww.wrapExports(7)
      r.push(ww.track('t', undefined) === undefined, ww.track('t', 5) === 5, ww.track() === undefined)
      window.dispatchEvent(new CustomEvent('wasm-operation'))
      window.dispatchEvent(new CustomEvent('wasm-error', { detail: 3 }))
      window.dispatchEvent(new CustomEvent('wasm-feature-used', { detail: null }))
      r.push(typeof ww.getCurrentMetrics().collected_at)
      await ww.flush(); await ww.flush()
      return r
    }""")
    assert out == [True, True, True, "string"]
    assert errors == []


@pytest.mark.parametrize("loader", ["wasm-bindgen", "emscripten"])
@pytest.mark.parametrize("mime", ["application/wasm", "wrong-mime"])
def test_toolchain_loaders_work_unchanged(context: Any, page_server: Any, live_server: Any,
                                          rows: Rows, loader: str, mime: str) -> None:
    """wasm-bindgen's and Emscripten's loading code runs as before, fallback path included,
    and the load is measured either way."""
    page = context.new_page()
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(f"{page_server.url}/loaders.html?endpoint={live_server.url}&key={live_server.key}")
    wasm = "/wrong-mime.wasm" if mime == "wrong-mime" else "/demo.wasm"
    assert page.evaluate("a => loaders.run(a[0], a[1])", [loader, wasm]) == 42
    assert bool(warnings) is (mime == "wrong-mime"), "the loader's own fallback ran (or not)"
    page.evaluate("ww.flush()")
    session = session_of(page)
    got = wait_for(lambda: rows(session=session), lambda r: any(x["type"] == "bundle_load" for x in r))
    loads = [r for r in got if r["type"] == "bundle_load"]
    assert len(loads) == 1
    assert loads[0]["streaming"] is (mime != "wrong-mime")
    assert loads[0]["name"].endswith(wasm)
    assert [r["type"] for r in got if r["type"] == "error"] == [], "a handled MIME fallback is no error"
