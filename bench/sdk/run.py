"""SDK budgets, measured in real headless Chromium against the bare page in the same run.

1. Size: the whole SDK minified+gzipped (<= 6 KB), next to web-vitals and @sentry/browser
   built by the same esbuild with the same settings (size.mjs).
2. track() overhead: median added µs per call (<= 5 µs), against the same call unwrapped,
   with the default configuration (hot calls soon hit the rate cap: the cheap path) and with
   the cap lifted so that every call is recorded and queued (the full path).
3. Long tasks (> 50 ms): the same busy workload on the bare page and on the SDK page; the SDK
   may add none.

The page is served from one local origin and the SDK posts to a local sink on another (a
stand-in receiver that answers like wasmwatch), so the network plays no part.

Usage: .venv/bin/python bench/sdk/run.py [--quick] [--write-results]
Writes bench/out/sdk.json; --write-results also rewrites bench/sdk/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.server
import json
import os
import platform
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SDK_DIST = ROOT / "sdk" / "dist"
WASM = ROOT / "demo" / "dist" / "demo.wasm"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run", "--disable-gpu"]
BUDGET_GZ = 6 * 1024
BUDGET_TRACK_US = 5.0
LONG_TASK_MS = 50


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET: the bench page (bare or with the SDK), the SDK build, the demo module.
    POST /api/v1/ingest: the sink; counts items (gzip or not) and answers like wasmwatch."""

    received = 0
    lock = threading.Lock()
    sink_url = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"content-type": ctype, "content-length": str(len(body)), "cache-control": "no-store",
                   "access-control-allow-origin": "*",
                   "access-control-allow-headers": "content-type, content-encoding",
                   # Cross-origin isolated: performance.now() gets its fine (5 µs) resolution.
                   "cross-origin-opener-policy": "same-origin",
                   "cross-origin-embedder-policy": "require-corp",
                   "cross-origin-resource-policy": "cross-origin",
                   **(extra or {})}
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        # A page may close while its request is in flight.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def do_OPTIONS(self) -> None:
        self._send(204, b"", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        n = len(json.loads(body)["items"])
        with _Handler.lock:
            _Handler.received += n
        self._send(200, json.dumps({"accepted": n, "rejected": [], "duplicates": 0}).encode(),
                   "application/json")

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        query = self.path.split("?", 1)[1] if "?" in self.path else ""
        if path in ("/bare.html", "/sdk.html"):
            page = (HERE / "page.html").read_text()
            if path == "/sdk.html":
                options = "rateLimit: 1e9, rateBurst: 1e9, maxQueue: 1e9, batchSize: 1e9" \
                    if "uncapped" in query else ""
                page = page.replace("<!--SDK-->", (
                    '<script src="/sdk/wasmwatch.iife.js"></script>\n  <script>window.ww = '
                    f"WasmWatch.init({{endpoint: '{_Handler.sink_url}', key: 'bench', "
                    f"release: 'bench', {options}}})</script>"))
            self._send(200, page.encode(), "text/html")
        elif path.startswith("/sdk/"):
            self._send(200, (SDK_DIST / path[5:]).read_bytes(), "text/javascript")
        elif path == "/demo.wasm":
            self._send(200, WASM.read_bytes(), "application/wasm")
        else:
            self._send(404, b"not found", "text/plain")


@contextmanager
def serve() -> Iterator[tuple[str, str]]:
    """The page origin and the sink origin (same server, two addresses: two origins)."""
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler) for _ in range(2)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    page, sink = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    _Handler.sink_url = sink
    try:
        yield page, sink
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def sizes() -> list[dict[str, Any]]:
    if not (HERE / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True)
    out = subprocess.run(["node", "size.mjs"], cwd=HERE, check=True, capture_output=True, text=True)
    return list(json.loads(out.stdout))


def browser_figures(quick: bool) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    samples, n, seconds = (60, 2000, 2) if quick else (200, 2000, 5)
    figures: dict[str, Any] = {}
    with serve() as (origin, _sink), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for label, path, drain in (("default", "/sdk.html", False),
                                       ("uncapped", "/sdk.html?uncapped=1", True)):
                page = browser.new_page()
                page.goto(origin + path)
                page.evaluate("bench.load()")
                assert page.evaluate("crossOriginIsolated"), "the page must be cross-origin isolated"
                figures[f"overhead_{label}"] = page.evaluate(
                    "a => bench.overhead(a[0], a[1], a[2])", [samples, n, drain])
                figures[f"overhead_{label}"]["metrics"] = page.evaluate("ww.getCurrentMetrics().runtime")
                page.close()
            for label in ("bare", "sdk"):
                page = browser.new_page()
                page.goto(f"{origin}/{label}.html")
                page.evaluate("bench.load()")
                figures[f"workload_{label}"] = page.evaluate("s => bench.workload(s)", seconds)
                page.close()
            figures["items_received"] = _Handler.received
            figures["chromium"] = browser.version
        finally:
            browser.close()
    return figures


def verdicts(size_rows: list[dict[str, Any]], fig: dict[str, Any]) -> dict[str, Any]:
    sdk_gz = max(r["gz"] for r in size_rows if r["name"].startswith("wasmwatch") and not r.get("apart"))
    d, u = fig["overhead_default"], fig["overhead_uncapped"]
    added = {"track_default_us": d["track"] - d["bare"], "track_full_us": u["track"] - u["bare"],
             "wrapped_default_us": d["wrapped_export"] - d["bare_export"],
             "wrapped_full_us": u["wrapped_export"] - u["bare_export"]}
    long_sdk = [t for t in fig["workload_sdk"]["longtasks"] if t["ms"] > LONG_TASK_MS]
    long_bare = [t for t in fig["workload_bare"]["longtasks"] if t["ms"] > LONG_TASK_MS]
    return {
        "size_gz": sdk_gz, "size_ok": sdk_gz <= BUDGET_GZ,
        **added, "track_ok": max(added.values()) <= BUDGET_TRACK_US,
        "long_tasks_sdk": len(long_sdk), "long_tasks_bare": len(long_bare),
        "long_tasks_ok": len(long_sdk) <= len(long_bare),
    }


def markdown(size_rows: list[dict[str, Any]], fig: dict[str, Any], v: dict[str, Any]) -> str:
    d, u = fig["overhead_default"], fig["overhead_uncapped"]
    ok = {True: "within budget", False: "OVER BUDGET"}
    lines = [
        "## Browser SDK",
        "",
        f"Measured by `bench/sdk/run.py` in headless Chromium {fig['chromium']} "
        f"({platform.machine()}, {platform.system()}), the bare page and the SDK page in the same run; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end (the machine "
        "may be shared: compare the bare and SDK figures, taken together).",
        "",
        "| budget | measured | verdict |",
        "|---|---|---|",
        f"| whole SDK ≤ 6 KB min+gz | {v['size_gz']} B ({v['size_gz'] / 1024:.2f} KB) | {ok[v['size_ok']]} |",
        f"| track() adds ≤ 5 µs median per call | {v['track_full_us']:.3f} µs (every call recorded), "
        f"{v['track_default_us']:.3f} µs (default, rate-capped) | {ok[v['track_ok']]} |",
        f"| no long task (> 50 ms) from the SDK | {v['long_tasks_sdk']} on the SDK page, "
        f"{v['long_tasks_bare']} on the bare page | {ok[v['long_tasks_ok']]} |",
        "",
        "Size, minified + gzipped (level 9), every bundle built by esbuild 0.28.2 with the same "
        "settings (bundle, minify, es2020, ESM). The worker build and worker support are not in the "
        "page build: the first runs only inside workers, the second is imported by the page's SDK "
        "after init() (one request, cached):",
        "",
        "| bundle | minified | gzipped |",
        "|---|---:|---:|",
        *(f"| {r['name']} | {r['min']:,} B | {r['gz']:,} B |" for r in size_rows),
        "",
        "Per-call cost, median µs over interleaved samples of 2000 calls of the demo module's `add`:",
        "",
        "| call | default config | every call recorded |",
        "|---|---:|---:|",
        f"| `fn()` (bare) | {d['bare']:.3f} | {u['bare']:.3f} |",
        f"| `ww.track('add', fn)` | {d['track']:.3f} | {u['track']:.3f} |",
        f"| `raw.add(1, 2)` (bare export) | {d['bare_export']:.3f} | {u['bare_export']:.3f} |",
        f"| `wasm.add(1, 2)` (wrapExports) | {d['wrapped_export']:.3f} | {u['wrapped_export']:.3f} |",
        "",
        "With the default configuration a hot loop soon exhausts the rate cap (20 items/s, burst "
        "200): later calls are timed and counted (getCurrentMetrics) but not queued, the cheap "
        "path. \"Every call recorded\" lifts the cap so each call builds and queues its item; "
        f"serializing and sending those items (flush, outside the timed loop) took "
        f"{u['flush_ms_total']:.0f} ms in all for {u['metrics']['operation_count']:,} operations.",
        "",
        f"Workload: {fig['workload_sdk']['frames']} frames of 100 wasm calls, a heavier kernel, a "
        "trap every 20th frame, features and measurements, then a burst of 500 items and a page "
        f"hide (beacon): page hide took {fig['workload_sdk']['hide_ms']:.2f} ms on the SDK page. "
        f"Long tasks seen: SDK page {fig['workload_sdk']['longtasks']}, bare page "
        f"{fig['workload_bare']['longtasks']}. The sink received {fig['items_received']:,} items.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, shorter workload")
    parser.add_argument("--write-results", action="store_true", help="rewrite bench/sdk/RESULTS.md")
    args = parser.parse_args()
    for need in (SDK_DIST / "wasmwatch.iife.js", WASM):
        if not need.is_file():
            print(f"{need} is missing: run `make install` first", file=sys.stderr)
            return 2
    size_rows = sizes()
    fig = browser_figures(args.quick)
    v = verdicts(size_rows, fig)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sdk.json").write_text(json.dumps({"sizes": size_rows, "browser": fig, "verdicts": v}, indent=2))
    text = markdown(size_rows, fig, v)
    print(text)
    if args.write_results:
        (HERE / "RESULTS.md").write_text(text)
    return 0 if v["size_ok"] and v["track_ok"] and v["long_tasks_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
