"""One real `wasmwatch serve` per test module, and a client that reports to it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer
from wasmwatch.client import Client


@pytest.fixture(scope="module")
def ww(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("ww") / "data").start()
    yield server
    if server.proc and server.proc.poll() is None:
        server.stop()


@pytest.fixture(scope="module")
def reporter(ww: LiveServer) -> Iterator[Client]:
    client = Client(ww.url, ww.key, service="shop-api", release="2.0.1",
                    flush_interval_s=0.05, poll_interval_s=0.2)
    yield client
    client.close()


def wait_items(ww: LiveServer, n: int, timeout: float = 30.0, **filters: str) -> list[dict[str, Any]]:
    """At least ``n`` stored items matching ``filters``, waiting for them to arrive."""
    deadline = time.monotonic() + timeout
    while True:
        rows = ww.items(**filters)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)
