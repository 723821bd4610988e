"""Browser fixtures: Debian's Chromium driven by Playwright, and a static page server on a
second origin (so every request to wasmwatch is cross-origin and CORS is exercised)."""

from __future__ import annotations

import functools
import http.server
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.browser.wasmgen import big_module

ROOT = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).parent / "pages"
SDK_DIST = ROOT / "sdk" / "dist"
DEMO_DIST = ROOT / "demo" / "dist"
#: esbuild-wasm from npm (tests/browser/fixtures/package.json), served at /esbuild/
ESBUILD = Path(__file__).parent / "fixtures" / "node_modules" / "esbuild-wasm"
CHROMIUM = "/usr/bin/chromium"
#: the built dashboard (``make install`` builds dashboard/ into the server's static files)
DASHBOARD_BUILT = ROOT / "wasmwatch" / "web" / "static" / "dashboard" / "index.html"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run", "--disable-gpu"]


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Pages from tests/browser/pages, /sdk/* from sdk/dist, /big*.wasm from a multi-megabyte
    module made for the session (tests/browser/wasmgen.py), /esbuild/* from the npm fixture,
    /built/* from a directory a test names, any other .wasm from demo/dist.
    The module is cacheable, so a second load comes from the HTTP cache."""

    big = ""
    wasm_hits: list[str] = []  # paths of the .wasm requests served, in order
    #: a directory served at /built/ (modules a test built, e.g. tests/symbols)
    built: Path | None = None

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0].split("#", 1)[0]
        if path.startswith("/built/") and _Handler.built is not None:
            return str(_Handler.built / path[len("/built/"):])
        if path.startswith("/esbuild/"):
            return str(ESBUILD / path[len("/esbuild/"):])
        if path.startswith("/sdk/"):
            return str(SDK_DIST / path[len("/sdk/"):])
        if path.endswith(".wasm"):
            self.wasm_hits.append(path)
        if path.startswith("/big") and path.endswith(".wasm"):
            return self.big
        if path.endswith(".wasm"):
            return str(DEMO_DIST / "demo.wasm")
        return str(PAGES / path.lstrip("/"))

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        # A server that does not know the wasm MIME type: makes streaming compiles fail.
        if "wrong-mime" in self.path:
            return "application/octet-stream"
        return super().guess_type(path)

    def end_headers(self) -> None:
        cache = "public, max-age=3600" if self.path.split("?")[0].endswith(".wasm") else "no-store"
        self.send_header("Cache-Control", cache)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


_Handler.extensions_map = {**_Handler.extensions_map, ".wasm": "application/wasm",
                           ".js": "text/javascript"}


@dataclass
class PageServer:
    url: str


BIG_WASM_BYTES = 4 << 20


@pytest.fixture(scope="session")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageServer]:
    big = tmp_path_factory.mktemp("wasm") / "big.wasm"
    big.write_bytes(big_module(BIG_WASM_BYTES))
    _Handler.big = str(big)
    for need in (SDK_DIST / "wasmwatch.iife.js", SDK_DIST / "wasmwatch.js", DEMO_DIST / "demo.wasm"):
        if not need.is_file():
            pytest.fail(f"{need} is missing: run `make install` (it builds the SDK and the demo)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PageServer(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context()
    yield ctx
    ctx.close()


@pytest.fixture
def harness_url(page_server: PageServer, live_server: Any) -> Callable[..., str]:
    """URL of the harness page on the page origin, pointed at the live server."""

    def make(page: str = "harness.html", **params: str) -> str:
        query = urlencode({"endpoint": live_server.url, "key": live_server.key, **params})
        return f"{page_server.url}/{page}?{query}"

    return make


def wait_for(fetch: Callable[[], list[dict[str, Any]]], done: Callable[[list[dict[str, Any]]], bool],
             timeout: float = 15.0) -> list[dict[str, Any]]:
    """Polls `fetch` until `done(rows)`; returns the last rows (the caller asserts on them)."""
    deadline = time.monotonic() + timeout
    rows = fetch()
    while not done(rows) and time.monotonic() < deadline:
        time.sleep(0.2)
        rows = fetch()
    return rows


@pytest.fixture
def rows(live_server: Any) -> Callable[..., list[dict[str, Any]]]:
    """rows(type=..., session=..., name=...): stored items, via the server's query API."""
    return functools.partial(live_server.items)


def session_of(page: Any) -> str:
    """The SDK's session id for this tab (kept in sessionStorage)."""
    return str(page.evaluate("sessionStorage.getItem('wasmwatch.session')"))


def open_harness(context: Any, url: str, init: dict[str, Any] | None = None) -> Any:
    """A new tab on the harness page with the SDK started (options merged into init())."""
    page = context.new_page()
    page.goto(url)
    page.evaluate("o => harness.init(o)", init or {})
    return page


def dashboard_page(browser: Any, *, width: int = 1280, console_errors: bool = False) -> Any:
    """A page in a context of its own (``width`` x 900) whose ``problems`` list records page
    errors, and console errors too with ``console_errors``. Close it with ``page.context.close()``."""
    assert DASHBOARD_BUILT.is_file(), "the dashboard is not built: run `make install` (it builds dashboard/)"
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(f"pageerror: {exc}"))
    if console_errors:
        page.on("console", lambda msg: msg.type == "error"
                and page.problems.append(f"console: {msg.text}"))
    return page


def load_each_api(open_page: Callable[[], Any], apis: tuple[str, ...], path: str, flush: str,
                  exports: str) -> dict[str, str]:
    """Loads the module at ``path.format(api=...)`` through each WebAssembly API in a new
    harness tab (``open_page()``), checks it exports ``exports`` and ``memory`` and adds, runs
    ``flush`` there; returns each tab's session id with its API."""
    sessions = {}
    for api in apis:
        page = open_page()
        names = page.evaluate("a => harness.load(a[0], a[1])", [api, path.format(api=api)])
        assert exports in names and "memory" in names
        assert page.evaluate("harness.call('add', 2, 3)") == {"value": 5}
        page.evaluate(flush)
        sessions[session_of(page)] = api
    return sessions
