"""The sender against a real loopback HTTP receiver: batching, gzip, Retry-After, losses."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import free_port
from wasmwatch.client import Client
from wasmwatch.client._sender import retry_after_s


class Receiver(ThreadingHTTPServer):
    """Answers each POST with the next scripted (status, headers); records the bodies."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), _Handler)
        self.script: list[tuple[int, dict[str, str]]] = []
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["content-length"]))
        assert self.headers["content-encoding"] == "gzip" and self.headers["x-wasmwatch-key"] == "k1"
        body = json.loads(gzip.decompress(raw))
        with self.server.lock:
            status, headers = self.server.script.pop(0) if self.server.script else (200, {})
            self.server.bodies.append({"status": status, **body})
        answer = json.dumps({"accepted": len(body["items"]), "rejected": [], "duplicates": 0}
                            if status == 200 else {"error": "no"}).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def make(url: str, **options: Any) -> Client:
    return Client(url, "k1", service="svc", **{"poll_interval_s": 0, "flush_interval_s": 0.02,
                                                **options})


def test_batches_carry_the_service_context(receiver: Receiver) -> None:
    """Executes are delivered in batches no larger than batch_size, with the service context."""
    client = make(receiver.url, batch_size=3)
    for i in range(7):
        client.execute("job", float(i), queue="emails")
    assert client.flush()
    client.close()
    items = [it for b in receiver.bodies for it in b["items"]]
    assert [it["ms"] for it in items] == [float(i) for i in range(7)]
    assert max(len(b["items"]) for b in receiver.bodies) <= 3
    assert receiver.bodies[0]["context"]["service"] == "svc"
    assert items[0]["tags"] == {"queue": "emails"} and items[0]["kind"] == "execute"


def test_429_and_503_are_retried_with_the_same_items(receiver: Receiver) -> None:
    """A 429 (Retry-After 0) and a 503 keep the batch; it is sent again, ids unchanged."""
    receiver.script = [(429, {"Retry-After": "0"}), (503, {"Retry-After": "0"})]
    client = make(receiver.url)
    client.execute("job", 1.0)
    assert client.flush(timeout_s=20)
    client.close()
    assert [b["status"] for b in receiver.bodies] == [429, 503, 200]
    assert len({b["items"][0]["id"] for b in receiver.bodies}) == 1
    assert client.lost == {}


def test_a_refused_batch_is_counted_and_reported_next_time(receiver: Receiver) -> None:
    """A 400 drops the batch as invalid; the loss rides along in the next envelope's lost."""
    receiver.script = [(400, {})]
    client = make(receiver.url)
    client.execute("bad", 1.0)
    assert client.flush()
    client.execute("good", 1.0)
    assert client.flush()
    client.close()
    assert client.lost == {"invalid": 1}
    assert receiver.bodies[-1]["lost"] == {"invalid": 1} and receiver.bodies[-1]["status"] == 200


def test_full_queue_drops_and_counts_without_blocking() -> None:
    """Past max_queue an item is refused at once and counted as queue_full."""
    client = make(f"http://127.0.0.1:{free_port()}", max_queue=2, max_attempts=1,
                  flush_interval_s=60)
    client.sender.start = lambda: None  # type: ignore[method-assign]  # keep items queued
    for _ in range(5):
        client.execute("job", 1.0)
    assert len(client.sender.queue) == 2 and client.lost == {"queue_full": 3}


def test_unreachable_server_loses_the_batch_after_retries() -> None:
    """With nothing listening the batch is retried, then counted as lost to the network."""
    client = make(f"http://127.0.0.1:{free_port()}", max_attempts=2)
    client.execute("job", 1.0)
    assert client.flush(timeout_s=20)
    client.close()
    assert client.lost == {"network": 1}


def test_retry_after_takes_seconds_or_a_date() -> None:
    """Retry-After as delta seconds or an HTTP date, bounded to 300 s; junk is ignored."""
    now = 1_764_000_000.0
    assert retry_after_s("7", now) == 7.0
    assert retry_after_s("99999", now) == 300.0
    assert retry_after_s("Mon, 24 Nov 2025 16:00:10 GMT", 1_764_000_000.0) == 10.0
    assert retry_after_s("soon", now) is None and retry_after_s(None, now) is None
