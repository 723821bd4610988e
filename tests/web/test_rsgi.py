"""The app behind granian's RSGI interface, as ``wasmwatch serve`` runs it: bodies read in
one piece or chunk by chunk under the limit, headers, the client address, event streams."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, envelope, item
from wasmwatch.web.rsgi import header_pairs

pytestmark = pytest.mark.server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data", env={"WASMWATCH_MAX_BODY_BYTES": "4096",
                                              "WASMWATCH_ADDRESS_RATE_LIMIT": "3",
                                              "WASMWATCH_TRUSTED_PROXIES": "127.0.0.1"}).start()
    yield live
    live.stop()


def _body(n: int = 1) -> bytes:
    now = int(time.time() * 1000)
    return httpx.Request("POST", "http://x", json=envelope(
        [item(ts=now, id=f"r{i}-{now}") for i in range(n)], sent_at=now)).content


def _chunked(data: bytes, size: int = 100) -> Iterator[bytes]:
    for start in range(0, len(data), size):  # a generator: httpx sends it chunked
        yield data[start:start + size]


def test_a_chunked_body_is_read_to_its_end_and_stored(server: LiveServer) -> None:
    """No content-length: the body arrives chunk by chunk and every item is stored."""
    body = _body(5)
    r = httpx.post(f"{server.url}/api/v1/ingest", params={"key": server.key},
                   content=_chunked(body), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 5


def test_a_chunked_body_over_the_limit_is_refused(server: LiveServer) -> None:
    """No content-length and past ``max_body_bytes``: 413, counted as it streams in."""
    r = httpx.post(f"{server.url}/api/v1/ingest", params={"key": server.key},
                   content=_chunked(b"[" + b" " * 8000 + b"]"),
                   headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text


def test_cors_and_content_headers_reach_the_client(server: LiveServer) -> None:
    """The response's own headers and the CORS ones for the origin, the length by granian."""
    body = _body()
    r = httpx.post(f"{server.url}/api/v1/ingest", params={"key": server.key}, content=body,
                   headers={"content-type": "application/json", "origin": "https://app.test"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["access-control-allow-origin"] == "https://app.test"
    assert r.headers["vary"] == "origin"
    assert int(r.headers["content-length"]) == len(r.content)


def _statuses(server: LiveServer, forwarded: list[str]) -> list[int]:
    return [httpx.post(f"{server.url}/api/v1/ingest", params={"key": server.key},
                       content=_body(), headers={"content-type": "application/json",
                                                 "x-forwarded-for": address}).status_code
            for address in forwarded]


def test_the_peer_address_is_read_from_the_rsgi_scope(server: LiveServer) -> None:
    """The peer (127.0.0.1, a trusted proxy) is known, so each forwarded client has its own
    per-address bucket (3 requests/s, burst 6): ten clients pass, one client ten times not."""
    assert _statuses(server, [f"203.0.113.{i}" for i in range(10)]) == [200] * 10
    assert 429 in _statuses(server, ["198.51.100.7"] * 10)


def test_an_event_stream_is_sent_as_it_is_made(server: LiveServer) -> None:
    """GET /api/v1/stream answers text/event-stream and its first event at once."""
    with httpx.stream("GET", f"{server.url}/api/v1/stream", timeout=10,
                      headers={"authorization": f"Bearer {server.admin_token}"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        first = next(r.iter_bytes())
    assert first.startswith(b"retry: 3000")


def test_header_pairs_let_the_extra_headers_win() -> None:
    """As in the ASGI path, an extra header replaces the response's own of that name."""
    pairs = header_pairs({"content-type": "a", "x-one": "1"}, {"x-one": "2", "vary": "origin"})
    assert pairs == [("content-type", "a"), ("x-one", "2"), ("vary", "origin")]
    assert header_pairs({"content-type": "a"}, {}) == [("content-type", "a")]


def test_a_closed_event_stream_ends_as_answered(server: LiveServer) -> None:
    """A dashboard that goes away: the next event ends its stream as a 200, not an error."""
    with httpx.stream("GET", f"{server.url}/api/v1/stream", timeout=10,
                      headers={"authorization": f"Bearer {server.admin_token}"}) as r:
        next(r.iter_bytes())
    ok = 'route="/api/v1/stream",status="200"} 1.0'
    text = ""
    for i in range(50):  # each ingest publishes an update: the send that finds the client gone
        httpx.post(f"{server.url}/api/v1/ingest", params={"key": server.key}, content=_body(),
                   headers={"content-type": "application/json", "x-forwarded-for": f"192.0.2.{i}"})
        text = httpx.get(f"{server.url}/metrics").text
        if ok in text:
            break
        time.sleep(0.1)
    lines = [ln for ln in text.splitlines() if ln.startswith("wasmwatch_http_request_duration_seconds_count")
             and 'route="/api/v1/stream"' in ln]
    assert any(ok in ln for ln in lines), lines
    assert not any('status="500"' in ln for ln in lines), lines
