"""Trace context from the browser to the app's own server, in real Chromium.

The page is served by an app server instrumented with the OpenTelemetry SDK (exporting to a
real `wasmwatch serve` over OTLP/HTTP); inside `ww.track()` its same-origin fetch calls carry
`traceparent` and `X-WasmWatch-Session`, a fetch to another origin carries neither (and needs no
preflight), and the client operation and the server request it caused share one trace id."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tests.browser.conftest import SDK_DIST, wait_for
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01")
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script src="/sdk/wasmwatch.iife.js"></script></head><body>app</body></html>"""


@dataclass
class Recorder:
    """An HTTP server on its own origin that records every request's method, path and headers."""

    tracer: Tracer | None = None
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.answer()

            def do_OPTIONS(self) -> None:
                self.answer()

            def answer(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                recorder.seen.append((self.command, self.path, headers))
                if self.path == "/page.html":
                    return self.send(PAGE, "text/html")
                if self.path.startswith("/sdk/"):
                    return self.send((SDK_DIST / self.path[5:]).read_bytes(), "text/javascript")
                if recorder.tracer is not None:  # the app's API, instrumented with OpenTelemetry
                    context = TraceContextTextMapPropagator().extract(headers)
                    with recorder.tracer.start_as_current_span(
                            f"{self.command} {self.path}", context=context, kind=SpanKind.SERVER,
                            attributes={"http.request.method": self.command, "http.route": self.path,
                                        "http.response.status_code": 200}):
                        pass  # SimpleSpanProcessor: exported (and stored) as the span ends
                self.send(b"{}", "application/json")

            def send(self, body: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("content-type", ctype)
                self.send_header("access-control-allow-origin", "*")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def requests(self, path: str) -> list[tuple[str, dict[str, str]]]:
        return [(method, headers) for method, p, headers in self.seen if p == path]


def serve(recorder: Recorder) -> Iterator[Recorder]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), recorder.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def app_server(live_server: LiveServer) -> Iterator[Recorder]:
    provider = TracerProvider(resource=Resource.create({"service.name": "browser-app-api"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces", headers={"x-wasmwatch-key": live_server.key})))
    yield from serve(Recorder(tracer=provider.get_tracer("app")))
    provider.shutdown()


@pytest.fixture
def other_origin() -> Iterator[Recorder]:
    yield from serve(Recorder())


SCRIPT = """async ({endpoint, key, other}) => {
  const ww = WasmWatch.init({ endpoint, key, release: 't-1', flushInterval: 60000 })
  let loading
  const saved = await ww.track('save', async () => {
    const r = await fetch('/api/save', { method: 'POST', body: '{}',
      headers: { 'Content-Type': 'application/json', 'X-App': 'kept' } })
    await (await fetch(other + '/cross')).text()
    return r.status
  })
  const sync = ww.track('load', () => { loading = fetch(new Request('/api/load')); return 7 })
  await loading
  await fetch('/api/plain')
  await ww.flush()
  return { saved, sync, session: sessionStorage.getItem('wasmwatch.session') }
}"""


def test_same_origin_fetches_in_track_carry_the_trace(context: Any, live_server: LiveServer,
                                                      app_server: Recorder, other_origin: Recorder) -> None:
    """traceparent and the session go to the page's own origin only, and link the two sides."""
    page = context.new_page()
    page.goto(f"{app_server.url}/page.html")
    out = page.evaluate(SCRIPT, {"endpoint": live_server.url, "key": live_server.key, "other": other_origin.url})
    assert (out["saved"], out["sync"]) == (200, 7), "track returns what fn returns"

    (method, save), = app_server.requests("/api/save")
    (_, load), = app_server.requests("/api/load")
    (_, plain), = app_server.requests("/api/plain")
    save_trace, save_span = TRACEPARENT.fullmatch(save["traceparent"]).groups()  # type: ignore[union-attr]
    load_trace = TRACEPARENT.fullmatch(load["traceparent"]).group(1)  # type: ignore[union-attr]
    assert method == "POST" and save["x-wasmwatch-session"] == out["session"] == load["x-wasmwatch-session"]
    assert save["x-app"] == "kept" and save["content-type"] == "application/json", "the app's headers stay"
    assert load_trace != save_trace, "one trace per operation; the sync fn's fetch has its own"
    assert "traceparent" not in plain and "x-wasmwatch-session" not in plain, "outside track(): nothing"
    assert [(m, "traceparent" in h or "x-wasmwatch-session" in h) for m, h in other_origin.requests("/cross")] \
        == [("GET", False)], "another origin: no header, so no preflight (no OPTIONS)"

    ops = wait_for(lambda: live_server.items(type="operation"), lambda r: len(r) >= 2)
    assert {r["name"]: r["trace_id"] for r in ops} == {"save": save_trace, "load": load_trace}
    linked = live_server.items(trace_id=save_trace)
    request = next(r for r in linked if r["type"] == "server_request")
    assert (request["name"], request["method"], request["service"]) == ("/api/save", "POST", "browser-app-api")
    assert request["parent_span_id"] == save_span, "the fetch's span id is the server request's parent"
    assert {r["type"] for r in linked} == {"operation", "server_request"}
