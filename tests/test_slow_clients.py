"""Slow and stalled clients against a real server: a stalled body answers 408 and the
connection closes within the body timeout; a stalled request head is dropped within the
header timeout; normal requests succeed meanwhile."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, envelope, item

pytestmark = pytest.mark.server


@pytest.fixture
def strict_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "data", env={"WASMWATCH_BODY_TIMEOUT_S": "1",
                                                 "WASMWATCH_HEADER_TIMEOUT_S": "1"}).start()
    yield server
    server.stop()


def read_all(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and when it closed (or ``within`` ran out)."""
    sock.settimeout(within)
    started, data = time.monotonic(), b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pass
    return data, time.monotonic() - started


def test_stalled_body_gets_408_and_the_connection_closes(strict_server: LiveServer) -> None:
    """A body that stops after 10 of 1000 bytes: 408 within the timeout, then closed."""
    with socket.create_connection(("127.0.0.1", strict_server.port)) as sock:
        sock.sendall(f"POST /api/v1/ingest?key={strict_server.key} HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"items\":".encode())
        data, took = read_all(sock, within=10)
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"body not received within 1 s" in data
    assert took < 5, f"closed after {took:.1f} s"
    r = httpx.post(f"{strict_server.url}/api/v1/ingest", params={"key": strict_server.key},
                   json=envelope([item(ts=int(time.time() * 1000))], sent_at=int(time.time() * 1000)))
    assert r.status_code == 200 and r.json()["accepted"] == 1


def test_stalled_request_head_is_dropped(strict_server: LiveServer) -> None:
    """A request head that never ends is closed within the header timeout."""
    with socket.create_connection(("127.0.0.1", strict_server.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        data, took = read_all(sock, within=10)
    assert took < 5, f"still open after {took:.1f} s"
    assert not data.startswith(b"HTTP/1.1 200")


def test_normal_requests_succeed_beside_stalled_ones(strict_server: LiveServer) -> None:
    """Fifty stalled bodies do not stop a normal request from being answered."""
    stalled = []
    try:
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", strict_server.port))
            sock.sendall(b"POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
            stalled.append(sock)
        assert httpx.get(f"{strict_server.url}/readyz", timeout=5).status_code == 200
    finally:
        for sock in stalled:
            sock.close()
