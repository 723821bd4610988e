"""Symbolication end to end: a stripped module (built from C with clang) traps in Chromium, in
the page and in a worker; its debug build is uploaded afterwards; the errors API and the
dashboard then show function, file and line beside the raw frame."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.browser.conftest import _Handler, open_harness, session_of, wait_for
from tests.symbols.build import Built

pytestmark = pytest.mark.browser


@pytest.fixture
def served(built: Built) -> Iterator[Built]:
    _Handler.built = built.debug.parent
    yield built
    _Handler.built = None


def groups(server: Any) -> list[dict[str, Any]]:
    r = httpx.get(f"{server.url}/api/v1/errors?window=1h", timeout=10,
                  headers={"authorization": f"Bearer {server.admin_token}"})
    r.raise_for_status()
    return list(r.json()["groups"])


def test_stripped_trap_resolved_through_uploaded_debug_build(
        context: Any, harness_url: Callable[..., str], live_server: Any, served: Built,
        rows: Callable[..., list[dict[str, Any]]]) -> None:
    """Page and worker traps of the shipped (stripped) module resolve once the debug build is up."""
    page = open_harness(context, harness_url())
    page.evaluate("harness.load('instantiateStreaming', '/built/app.wasm')")
    assert page.evaluate("harness.call('run', 5)")["name"] == "RuntimeError"
    page.wait_for_function("!/native code/.test(String(Worker))", timeout=30_000)  # slow under load
    page.evaluate("""() => new Promise(ok => {
      const w = new Worker(URL.createObjectURL(new Blob([`
        onmessage = async () => {
          const { instance } = await WebAssembly.instantiateStreaming(fetch('${location.origin}/built/app.wasm'))
          setTimeout(() => postMessage(0), 50)
          instance.exports.run(7)
        }`])))
      w.onmessage = ok
      w.postMessage(0)
    })""")
    page.evaluate("ww.flush()")
    wait_for(lambda: rows(type="error", session=session_of(page)), lambda r: len(r) >= 2)
    assert all(f["function"] is None for g in groups(live_server) for f in g["frames"])

    done = subprocess.run([sys.executable, "-m", "wasmwatch", "symbols", "upload", str(served.debug),
                           "--release", "test-1", "--server", live_server.url,
                           "--token", live_server.admin_token], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [group] = groups(live_server)  # the page's and the worker's trap: one resolved top frame
    assert group["count"] == 2
    top = group["frames"][0]
    assert (top["function"], top["line"]) == ("check", served.line_of("TRAP LINE"))
    assert top["file"].endswith("app.c") and top["index"] == 2
    assert [f["function"] for f in group["frames"]] == ["check", "step", "run"]

    dash = context.new_page()
    dash.goto(f"{live_server.url}/dashboard#token={live_server.admin_token}")
    row = dash.locator("#errors-table tr.group")
    row.wait_for()
    assert "check (" in row.inner_text() and f"app.c:{served.line_of('TRAP LINE')}" in row.inner_text()
    assert "wasm-function[2]" in row.inner_text()
    row.click()
    frames = dash.locator("#errors-table table.frames tbody tr")
    assert frames.count() == 3
    assert "step" in frames.nth(1).inner_text() and f"app.c:{served.line_of('CALL LINE')}" in frames.nth(1).inner_text()
