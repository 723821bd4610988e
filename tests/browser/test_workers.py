"""WebAssembly inside Web Workers, with no wasmwatch code in the worker (the page's SDK wraps
workers made after init()), and with the one-line opt-in where there is no page client.
Checked where the items land: a real `wasmwatch serve`, the page on another origin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import DEMO_DIST, ESBUILD, session_of, wait_for

pytestmark = pytest.mark.browser
Rows = Callable[..., list[dict[str, Any]]]


def open_workers(context: Any, url: str) -> Any:
    """The workers page with the SDK started and its worker support active."""
    page = context.new_page()
    page.goto(url)
    page.evaluate("harness.init()")
    page.wait_for_function("harness.wrapped()", timeout=10000)
    return page


def test_classic_worker_is_instrumented_without_code(context: Any, harness_url: Callable[..., str],
                                                     rows: Rows) -> None:
    """A classic worker's load, trap (kind and frame), memory and track() reach the page's session."""
    page = open_workers(context, harness_url("workers.html"))
    assert page.evaluate("harness.start('/workers/app.js')") is True
    names = page.evaluate("harness.ask('load')")
    assert "crash" in names.split(","), "relative importScripts and fetch still resolve"
    assert page.evaluate("harness.ask('where')").endswith("/workers/app.js"), "location is the script's"
    assert page.evaluate("harness.ask('track', 2, 3)") == 5
    assert page.evaluate("harness.ask('grow')") == 1
    assert page.evaluate("harness.ask('crash')") == {"error": "Uncaught RuntimeError: unreachable"}
    assert page.evaluate("harness.ask('flush')") == "flushed"
    session = session_of(page)
    loads = wait_for(lambda: rows(type="bundle_load", session=session), lambda r: len(r) >= 1)
    assert len(loads) == 1
    load = loads[0]
    assert load["name"].endswith("/workers/demo-worker.wasm")
    assert load["streaming"] is True
    assert load["decoded_bytes"] == (DEMO_DIST / "demo.wasm").stat().st_size
    assert load["compile_ms"] is not None and load["instantiate_ms"] is not None
    errors = wait_for(lambda: rows(type="error", session=session), lambda r: len(r) >= 1)
    assert [(e["kind"], e["category"]) for e in errors] == [("unreachable", "runtime")], errors
    assert "wasm-function[" in errors[0]["frame"]
    ops = wait_for(lambda: rows(type="operation", session=session), lambda r: len(r) >= 1)
    assert [(o["name"], o["ok"]) for o in ops] == [("worker_add", True)]
    memory = wait_for(lambda: rows(type="memory", session=session),
                      lambda r: any(m["value"] == 2 * 65536 for m in r))
    assert any(m["value"] == 2 * 65536 for m in memory), memory


def test_module_worker_is_instrumented(context: Any, harness_url: Callable[..., str], rows: Rows) -> None:
    """A module worker keeps its relative imports; its load, trap and async track() arrive."""
    page = open_workers(context, harness_url("workers.html"))
    page.evaluate("harness.start('/workers/module.js', {type: 'module'})")
    assert "divide" in page.evaluate("harness.ask('load')")
    assert page.evaluate("harness.ask('track')") == 42
    assert page.evaluate("harness.ask('divide')") == "after"
    assert page.evaluate("harness.ask('flush')") == "flushed"
    session = session_of(page)
    loads = wait_for(lambda: rows(type="bundle_load", session=session), lambda r: len(r) >= 1)
    assert [r["name"].rsplit("/", 1)[1] for r in loads] == ["demo-module.wasm"]
    errors = wait_for(lambda: rows(type="error", session=session), lambda r: len(r) >= 1)
    assert [e["kind"] for e in errors] == ["divide_by_zero"]
    assert "wasm-function[" in errors[0]["frame"]
    ops = wait_for(lambda: rows(type="operation", session=session), lambda r: len(r) >= 1)
    assert [o["name"] for o in ops] == ["module_op"]


def test_blob_worker_revoked_at_once_still_runs(context: Any, harness_url: Callable[..., str],
                                                rows: Rows) -> None:
    """An app that revokes its blob URL right after new Worker() gets a working, measured worker."""
    page = open_workers(context, harness_url("workers.html"))
    answer = page.evaluate("""async () => {
      const code = `onmessage = async () => {
        const { instance } = await WebAssembly.instantiate(await (await fetch('${location.origin}/blob.wasm')).arrayBuffer())
        postMessage(instance.exports.add(40, 2))
      }`
      const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }))
      const w = new Worker(url)
      URL.revokeObjectURL(url)
      const got = await new Promise(ok => { w.onmessage = e => ok(e.data); w.postMessage(0) })
      return got
    }""")
    assert answer == 42
    page.evaluate("ww.flush()")
    loads = wait_for(lambda: rows(type="bundle_load", session=session_of(page)), lambda r: len(r) >= 1)
    assert loads and loads[0]["name"].endswith("/blob.wasm")


def test_worker_made_before_init_uses_the_one_line_opt_in(context: Any, harness_url: Callable[..., str],
                                                          live_server: Any, rows: Rows) -> None:
    """A worker made before init() is left as it is; its importScripts line reports by itself."""
    page = context.new_page()
    page.goto(harness_url("workers.html"))
    query = f"endpoint={live_server.url}&key={live_server.key}&release=test-1"
    page.evaluate(f"harness.start('/workers/optin.js?{query}')")
    page.evaluate("harness.init()")
    assert page.evaluate("harness.ask('load')") == 3
    assert page.evaluate("harness.ask('crash')") == "after"
    assert page.evaluate("harness.ask('flush')") == "flushed"
    ops = wait_for(lambda: rows(type="operation", name="optin_add"), lambda r: len(r) >= 1)
    assert len(ops) == 1 and ops[0]["session"] != session_of(page), "the worker's own session"
    errors = wait_for(lambda: rows(type="error", session=ops[0]["session"]), lambda r: len(r) >= 1)
    assert [e["kind"] for e in errors] == ["memory_out_of_bounds"]
    loads = rows(type="bundle_load", session=ops[0]["session"])
    assert [r["name"].rsplit("/", 1)[1] for r in loads] == ["demo-optin.wasm"]
    assert loads[0]["release"] == "test-1"


def test_esbuild_wasm_in_its_default_worker(context: Any, harness_url: Callable[..., str],
                                            rows: Rows) -> None:
    """esbuild-wasm from npm (its blob-URL worker): its module load is measured with bytes and
    timings, and a tracked transform is recorded."""
    wasm = ESBUILD / "esbuild.wasm"
    assert wasm.is_file(), "run `make test-deps` (npm ci in tests/browser/fixtures)"
    page = context.new_page()
    page.goto(harness_url("esbuild.html"))
    page.evaluate("app.init()")
    page.wait_for_function("!/native code/.test(String(Worker))", timeout=10000)
    page.evaluate("app.start()")
    assert page.evaluate("app.transform()") == "let x = 1;\n"
    page.evaluate("ww.flush()")
    session = session_of(page)
    loads = wait_for(lambda: rows(type="bundle_load", session=session), lambda r: len(r) >= 1, timeout=30)
    assert len(loads) == 1
    load = loads[0]
    assert load["name"].endswith("/esbuild/esbuild.wasm") and load["streaming"] is True
    assert load["decoded_bytes"] == wasm.stat().st_size
    assert load["transfer_bytes"] >= wasm.stat().st_size
    assert load["fetch_ms"] is not None and load["compile_ms"] > 0 and load["instantiate_ms"] is not None
    assert load["release"] == "esbuild-1"
    ops = wait_for(lambda: rows(type="operation", session=session), lambda r: len(r) >= 1)
    assert [(o["name"], o["ok"]) for o in ops] == [("transform", True)]
    # the worker samples its memory every 5 s; the page sends what it has on flush
    memory = wait_for(lambda: (page.evaluate("ww.flush()"), rows(type="memory", session=session))[1],
                      lambda r: len(r) >= 1, timeout=20)
    assert memory and memory[0]["value"] > 0, "the Go runtime's linear memory, seen in the worker"


def test_worker_the_sdk_cannot_wrap_is_left_alone(context: Any, harness_url: Callable[..., str]) -> None:
    """Under a CSP without blob: workers the probe fails and workers stay the browser's own;
    a cross-origin URL fails exactly as without the SDK."""
    page = context.new_page()
    page.goto(harness_url("workers-csp.html"))
    page.evaluate("harness.init()")
    assert page.evaluate("blocked") == "blob"
    assert page.evaluate("harness.wrapped()") is False
    page.evaluate("harness.start('/workers/app.js')")
    assert "crash" in page.evaluate("harness.ask('load')")
    page = context.new_page()
    page.goto(harness_url("workers.html"))
    page.evaluate("harness.init()")
    page.wait_for_function("harness.wrapped()", timeout=10000)
    thrown = page.evaluate("""() => { try { new Worker('http://127.0.0.2:9/x.js') } catch (e) { return e.name } }""")
    assert thrown == "SecurityError"


def test_shared_worker_with_the_one_line_opt_in(context: Any, harness_url: Callable[..., str],
                                                live_server: Any, rows: Rows) -> None:
    """A shared worker reports its module load and track() by itself."""
    page = context.new_page()
    page.goto(harness_url("workers.html"))
    query = f"endpoint={live_server.url}&key={live_server.key}&release=shared-1"
    got = page.evaluate("""q => new Promise(ok => {
      const w = new SharedWorker('/workers/shared.js?' + q)
      w.port.onmessage = e => ok(e.data)
      w.port.postMessage(0)
    })""", query)
    assert got == 4
    ops = wait_for(lambda: rows(type="operation", name="shared_add"), lambda r: len(r) >= 1)
    assert ops[0]["release"] == "shared-1"
    loads = wait_for(lambda: rows(type="bundle_load", session=ops[0]["session"]), lambda r: len(r) >= 1)
    assert loads[0]["name"].endswith("/workers/demo-shared.wasm")
