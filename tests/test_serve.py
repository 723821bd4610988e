"""A real `wasmwatch serve` process: first start, restart, SIGTERM flush, kill -9, SSE."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, envelope, item

pytestmark = pytest.mark.server


def post(server: LiveServer, items: list[dict[str, object]], client: httpx.Client) -> httpx.Response:
    now = int(time.time() * 1000)
    return client.post(f"{server.url}/api/v1/ingest", params={"key": server.key},
                       json=envelope(items, sent_at=now), timeout=30)


def fresh(n: int) -> list[dict[str, object]]:
    now = int(time.time() * 1000)
    return [item(ts=now, id=uuid.uuid4().hex) for _ in range(n)]


def test_first_start_makes_secrets_and_restart_reuses_them(tmp_path: Path) -> None:
    """First start creates the data dir, key and token and prints them; a restart reuses them."""
    server = LiveServer(tmp_path / "data", env={"WASMWATCH_INGEST_KEY": "", "WASMWATCH_ADMIN_TOKEN": ""})
    server.key = server.admin_token = ""
    server.env = {"WASMWATCH_INGEST_KEY": "", "WASMWATCH_ADMIN_TOKEN": ""}
    server.start()
    assert server.stop() == 0
    first = server.output
    assert "(created)" in first and "/dashboard" in first and "/sdk/wasmwatch.js" in first
    key = first.split("ingest key")[1].split()[0]
    token = first.split("admin token:")[1].split()[0]
    server.output = ""
    server.start()
    try:
        with httpx.Client() as client:
            server.key = key
            assert post(server, fresh(1), client).json()["accepted"] == 1
            r = client.get(f"{server.url}/api/v1/summary", headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            assert r.json()["events"] == {"operation": 1}
    finally:
        server.stop()
    assert "(created)" not in server.output
    assert key in server.output and token in server.output


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_flushes_accepted_items(live_server: LiveServer, sig: int) -> None:
    """Items acknowledged before SIGTERM or Ctrl-C are all in the store after a clean stop."""
    acked: list[str] = []
    with httpx.Client() as client:
        for _ in range(20):
            batch = fresh(50)
            if post(live_server, batch, client).status_code == 200:
                acked += [str(i["id"]) for i in batch]
    assert live_server.stop(sig) == 0
    assert "every accepted item is committed" in live_server.output
    stored = {r["id"] for r in live_server.items()}
    assert set(acked) <= stored
    assert len(acked) == 1000


def test_kill_9_loses_no_acknowledged_item(live_server: LiveServer) -> None:
    """Under concurrent load, kill -9 loses no acknowledged item; a restart recovers."""
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                batch = fresh(100)
                try:
                    r = post(live_server, batch, client)
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    with lock:
                        acked.extend(str(i["id"]) for i in batch)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60  # 2 s on a quiet machine; a loaded one commits slower
    while len(acked) <= 1000 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # kill in the middle of the load, not at a quiet moment
    assert live_server.proc is not None
    live_server.proc.kill()
    live_server.proc.wait()
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) > 1000
    live_server.start()  # recovers from the WAL
    assert live_server.stop() == 0
    stored = {r["id"] for r in live_server.items()}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged items lost"


def test_replay_against_real_server_is_stored_once(live_server: LiveServer) -> None:
    """The same batch sent twice to a real server is stored once."""
    batch = fresh(20)
    with httpx.Client() as client:
        assert post(live_server, batch, client).json()["accepted"] == 20
        assert post(live_server, batch, client).json() == {"accepted": 0, "rejected": [], "duplicates": 20}
    assert len(live_server.items()) == 20


def test_stream_pushes_live_updates(live_server: LiveServer) -> None:
    """The SSE stream delivers an update for items ingested after subscribing."""
    got: list[str] = []

    def listen() -> None:
        with httpx.stream("GET", f"{live_server.url}/api/v1/stream",
                          headers={"authorization": f"Bearer {live_server.admin_token}"},
                          timeout=10) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    got.append(line)
                    return

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.5)
    with httpx.Client() as client:
        post(live_server, fresh(3), client)
    listener.join(10)
    assert got and '"items":3' in got[0]


def test_sigterm_with_an_open_stream_still_stops(live_server: LiveServer) -> None:
    """An open event stream (a dashboard) does not hold the server up on SIGTERM."""
    opened = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{live_server.url}/api/v1/stream", timeout=30,
                          headers={"authorization": f"Bearer {live_server.admin_token}"}) as r:
            for _ in r.iter_lines():
                opened.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(10)
    started = time.monotonic()
    assert live_server.stop(signal.SIGTERM, timeout=10) == 0
    assert time.monotonic() - started < 10
    listener.join(10)


def test_metrics_show_ingest_and_process(live_server: LiveServer) -> None:
    """/metrics exposes client metrics with the seed buckets and the server's own health."""
    with httpx.Client() as client:
        post(live_server, fresh(5), client)
        text = client.get(f"{live_server.url}/metrics").text
    assert 'wasm_operations_duration_seconds_bucket{le="5.0",operation="render",project="default"} 5.0' in text
    assert 'wasmwatch_items_accepted_total{project="default"} 5.0' in text
    assert "\nprocess_resident_memory_bytes " in text


def test_replay_with_changed_ts_is_stored_once_across_kill_9(live_server: LiveServer) -> None:
    """An item replayed with another ts is stored once, before and after a kill -9 and a restart."""
    now = int(time.time() * 1000)
    one = item(ts=now, id="replay-1")
    with httpx.Client() as client:
        assert post(live_server, [one], client).json()["accepted"] == 1
        assert post(live_server, [{**one, "ts": now - 7_200_000}], client).json()["duplicates"] == 1
    assert live_server.proc is not None
    live_server.proc.kill()
    live_server.proc.wait()
    live_server.start()
    with httpx.Client() as client:
        assert post(live_server, [{**one, "ts": now - 3_600_000}], client).json()["duplicates"] == 1
    assert live_server.stop() == 0  # and after a clean restart
    live_server.start()
    with httpx.Client() as client:
        assert post(live_server, [{**one, "ts": now + 60_000}], client).json()["duplicates"] == 1
    assert [r["ts"] for r in live_server.items(id="replay-1")] == [now]
