"""Micro-benchmark: what wasmwatch.client adds to each request of the host app.

The same Starlette app (ASGI, one JSON route with a path parameter) and the same Flask app
(WSGI) are called in-process, with and without the middleware, in alternating short rounds of
one run; so are a minimal ASGI and a minimal WSGI app (one response, nothing else), where the
middleware's own cost is not lost in the framework's noise. The client delivers for real: its sender thread gzips batches and POSTs them to a loopback
HTTP receiver. Two costs are reported, each the median over rounds, in CPU microseconds per
request (CPU time, not wall time: the machine is shared, and CPU time does not count the time
other processes held the core):

- *request path*: the CPU time of the thread serving the requests (``time.thread_time``):
  what each request waits for;
- *all threads*: the process's CPU time (``time.process_time``) over the round plus the
  sender's delivery of its items: the whole price, sender thread included.

Each as without / with / overhead / ratio; and whether any item was lost.

    .venv/bin/python bench/client_overhead.py [--quick]

Prints a table and writes bench/out/client_overhead.json (untracked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from wasmwatch.client import ASGIMiddleware, Client, WSGIMiddleware, instrument_flask

OUT = Path(__file__).parent / "out" / "client_overhead.json"
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        body = b'{"accepted": 0, "rejected": [], "duplicates": 0}'
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def starlette(client: Client | None) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def item(request: Any) -> JSONResponse:
        return JSONResponse({"id": request.path_params["id"]})

    middleware = [Middleware(ASGIMiddleware, client=client)] if client else []
    return Starlette(routes=[Route("/api/items/{id:int}", item)], middleware=middleware)


def flask(client: Client | None) -> Any:
    from flask import Flask, jsonify

    app = Flask("bench")
    app.add_url_rule("/api/items/<int:id>", "item", lambda id: jsonify({"id": id}))
    return instrument_flask(app, client) if client else app


def bare_asgi(client: Client | None) -> Any:
    """The least an ASGI app can do (one response): the middleware's own cost stands out."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return ASGIMiddleware(app, client=client) if client else app


def bare_wsgi(client: Client | None) -> Any:
    """The least a WSGI app can do (one response)."""

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("content-type", "application/json")])
        return [b"{}"]

    return WSGIMiddleware(app, client) if client else app


def asgi_round(app: Any, n: int) -> float:
    """Seconds per request over ``n`` requests through ``app``."""
    scope_base = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                  "method": "GET", "scheme": "http", "path": "/api/items/7", "raw_path": b"/api/items/7",
                  "query_string": b"", "root_path": "", "server": ("127.0.0.1", 80),
                  "client": ("127.0.0.1", 5000),
                  "headers": [(b"host", b"x"), (b"traceparent", TRACEPARENT)]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def run() -> float:
        start = time.thread_time()
        for _ in range(n):
            await app(dict(scope_base), receive, send)
        return (time.thread_time() - start) / n

    return asyncio.run(run())


def wsgi_round(app: Any, n: int) -> float:
    environ_base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/items/7", "SERVER_NAME": "x",
                    "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": None,
                    "HTTP_TRACEPARENT": TRACEPARENT.decode(), "SERVER_PROTOCOL": "HTTP/1.1"}

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        pass

    start = time.thread_time()
    for _ in range(n):
        result = app(dict(environ_base), start_response)
        for _chunk in result:
            pass
        close = getattr(result, "close", None)
        if close:
            close()
    return (time.thread_time() - start) / n


def compare(name: str, make: Callable[[Client | None], Any], round_: Callable[[Any, int], float],
            client: Client, rounds: int, n: int) -> dict[str, Any]:
    bare, wrapped = make(None), make(client)
    round_(bare, n // 4), round_(wrapped, n // 4)  # warm up
    client.flush(30)
    path: dict[str, list[float]] = {"without": [], "with": []}
    total: dict[str, list[float]] = {"without": [], "with": []}
    for i in range(rounds):
        order = (("without", bare), ("with", wrapped))
        for label, app in order if i % 2 == 0 else order[::-1]:  # no side always goes first
            cpu = time.process_time()
            path[label].append(round_(app, n))
            client.flush(30)
            total[label].append((time.process_time() - cpu) / n)
    out: dict[str, Any] = {"app": name, "requests_per_round": n, "rounds": rounds}
    for kind, samples in (("path", path), ("all", total)):
        a, b = statistics.median(samples["without"]) * 1e6, statistics.median(samples["with"]) * 1e6
        out[kind] = {"without_us": round(a, 2), "with_us": round(b, 2),
                     "overhead_us": round(b - a, 2), "ratio": round(b / a, 3)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, n = (15, 400) if args.quick else (101, 400)
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    client = Client(f"http://127.0.0.1:{sink.server_address[1]}", "k", service="bench",
                    max_queue=100_000, batch_size=500, flush_interval_s=0.2, poll_interval_s=10)
    results = [compare("minimal ASGI app", bare_asgi, asgi_round, client, rounds, n * 5),
               compare("starlette (ASGI)", starlette, asgi_round, client, rounds, n),
               compare("minimal WSGI app", bare_wsgi, wsgi_round, client, rounds, n * 5),
               compare("flask (WSGI)", flask, wsgi_round, client, rounds, n)]
    client.close()
    sink.shutdown()
    print(f"{'app':18} {'cost':12} {'without µs':>11} {'with µs':>9} {'overhead µs':>12} {'ratio':>6}")
    for r in results:
        for kind, label in (("path", "request path"), ("all", "all threads")):
            c = r[kind]
            print(f"{r['app']:18} {label:12} {c['without_us']:>11} {c['with_us']:>9} "
                  f"{c['overhead_us']:>12} {c['ratio']:>6}")
    print(f"items lost: {client.lost or 'none'}")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"results": results, "lost": client.lost,
                               "python": sys.version.split()[0]}, indent=2))
    return 1 if client.lost else 0


if __name__ == "__main__":
    sys.exit(main())
