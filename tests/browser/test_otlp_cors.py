"""A page on another origin exports OTLP JSON to a real `wasmwatch serve` the way browser
OpenTelemetry exporters do (fetch, JSON body, the key in a header): Chromium's CORS preflight
is answered, and the spans are stored."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

PAGE = b"""<!doctype html><meta charset="utf-8"><title>otel</title>
<script>
  const nanos = ms => String(BigInt(Math.round(ms * 1000)) * 1000n)
  window.exportSpan = async (endpoint, headers, spanId, name) => {
    const now = Date.now()
    const body = { resourceSpans: [{ resource: { attributes: [
      { key: 'service.name', value: { stringValue: 'browser-otel' } }] },
      scopeSpans: [{ scope: { name: 'page' }, spans: [{
        traceId: '0af7651916cd43dd8448eb211c80319c', spanId, name, kind: 2,
        startTimeUnixNano: nanos(now - 5), endTimeUnixNano: nanos(now),
        attributes: [{ key: 'http.route', value: { stringValue: name } },
                     { key: 'http.request.method', value: { stringValue: 'GET' } },
                     { key: 'http.response.status_code', value: { intValue: '200' } }] }] }] }] }
    try {
      const r = await fetch(endpoint + '/v1/traces', { method: 'POST', body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...headers } })
      return [r.status, await r.text()]
    } catch (e) { return [0, String(e)] }
  }
</script>"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def page_origin() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_browser_exporter_passes_the_preflight(live_server: LiveServer, page_origin: str,
                                               browser: Any) -> None:
    """Cross-origin POSTs with a JSON body and X-WasmWatch-Key or Authorization: Bearer (both
    need a preflight) are answered 200 and stored; a wrong key is a readable 401."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(page_origin + "/")
        page.wait_for_function("typeof window.exportSpan === 'function'")
        calls = [({"x-wasmwatch-key": live_server.key}, "a1" * 8, "/by-key"),
                 ({"authorization": f"Bearer {live_server.key}"}, "b2" * 8, "/by-bearer"),
                 ({"x-wasmwatch-key": "pk_wrong"}, "c3" * 8, "/wrong-key")]
        answers = [page.evaluate("([u, h, s, n]) => window.exportSpan(u, h, s, n)",
                                 [live_server.url, headers, span, name])
                   for headers, span, name in calls]
    finally:
        context.close()
    assert [a[0] for a in answers] == [200, 200, 401], answers
    assert "key" in answers[2][1]
    stored = live_server.items(type="server_request")
    assert sorted(r["name"] for r in stored) == ["/by-bearer", "/by-key"]
    assert {r["service"] for r in stored} == {"browser-otel"}
