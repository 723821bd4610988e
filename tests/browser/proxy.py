"""A small HTTP proxy in front of a real wasmwatch server that answers the first ingest POSTs
itself (429 / 503 with Retry-After, CORS headers included so the page can read them) and
forwards everything else. While `down` is set it drops every ingest POST unanswered (status 0
in the record), the way a lost network looks to the page. It records every ingest attempt:
when, what status, which item ids."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


@dataclass
class Attempt:
    at: float
    status: int
    ids: list[str]
    encoding: str


@dataclass
class FlakyProxy:
    upstream: str
    plan: list[tuple[int, int]]  # (status, retry_after_s) for the first POSTs, in order
    attempts: list[Attempt] = field(default_factory=list)
    url: str = ""
    down: bool = False
    in_flight: int = 0

    def settled(self, timeout: float = 10.0) -> list[Attempt]:
        """The attempts so far, once no POST is still being forwarded. The upstream stores an
        item before the proxy has its answer, so a test that saw the rows must wait for this."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.attempts)

    def __enter__(self) -> FlakyProxy:
        proxy = self
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_OPTIONS(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                with lock:
                    proxy.in_flight += 1
                try:
                    self._post()
                finally:
                    with lock:
                        proxy.in_flight -= 1

            def _post(self) -> None:
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                raw = gzip.decompress(body) if self.headers.get("content-encoding") == "gzip" else body
                ids = [i["id"] for i in json.loads(raw)["items"]]
                encoding = self.headers.get("content-encoding", "")
                if proxy.down:
                    proxy.attempts.append(Attempt(arrived, 0, ids, encoding))
                    self.close_connection = True
                    return
                with lock:
                    planned = proxy.plan.pop(0) if proxy.plan else None
                if planned:
                    status, retry_after = planned
                    proxy.attempts.append(Attempt(arrived, status, ids, encoding))
                    self._answer(status, {"retry-after": str(retry_after)}, b'{"error":"busy"}')
                    return
                status = self._forward(body)
                proxy.attempts.append(Attempt(arrived, status, ids, encoding))

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                self.send_header("access-control-allow-origin", self.headers.get("origin", "*"))
                self.send_header("access-control-expose-headers", "retry-after")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self, body: bytes) -> int:
                keep = ("content-type", "content-encoding", "origin", "user-agent",
                        "access-control-request-method", "access-control-request-headers")
                headers = {k: v for k, v in self.headers.items() if k.lower() in keep}
                answer = httpx.request(self.command, proxy.upstream + self.path, headers=headers,
                                       content=body, timeout=10)
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in _HOP:
                        self.send_header(k, v)
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)
                return answer.status_code

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
