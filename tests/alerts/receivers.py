"""Real receivers on loopback: an HTTP webhook receiver and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class Received:
    at: float  # time.monotonic() on arrival
    path: str
    body: Any
    status: int


@dataclass
class WebhookReceiver:
    """Answers by path: ``/ok`` 200, ``/fail2`` 500 twice then 200, ``/fail`` always 500,
    ``/hang`` never answers (until stopped)."""

    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                n = receiver._counts[self.path] = receiver._counts.get(self.path, 0) + 1
                if self.path == "/hang":
                    receiver.received.append(Received(at, self.path, body, 0))
                    receiver._stop.wait(30)
                    return
                status = 500 if self.path == "/fail" or (self.path == "/fail2" and n <= 2) else 200
                receiver.received.append(Received(at, self.path, body, status))
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def bodies(self, path: str, status: int | None = 200) -> list[Any]:
        return [r.body for r in self.received if r.path == path and (status is None or r.status == status)]

    def wait_for(self, path: str, pred: Any, timeout: float = 20.0) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in list(self.received):
                if r.path == path and pred(r.body):
                    return r
            time.sleep(0.02)
        raise AssertionError(f"nothing matching arrived at {path} within {timeout} s: "
                             f"{[r.body.get('status') for r in self.received]}")


class _Handler:
    def __init__(self) -> None:
        self.messages: list[tuple[float, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((time.monotonic(), envelope))
        return "250 OK"


class SmtpReceiver:
    """aiosmtpd on a loopback port, keeping every message."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def subjects(self) -> list[str]:
        out = []
        for _, env in self.handler.messages:
            text = env.content.decode()
            out += [line[9:] for line in text.splitlines() if line.startswith("Subject: ")]
        return out
