"""Roles on a shared ClickHouse store (chdb): an ingest node and the evaluator, over HTTP.

Both nodes run in this process on one chdb engine (chdb allows one per process; two processes
would need a ClickHouse server, see tests/store/test_conformance.py and docs/clickhouse.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import KEY, NOW, TOKEN, LiveServer, envelope, item, settings_for
from tests.store.test_conformance import same
from wasmwatch.clock import ManualClock
from wasmwatch.errors import ConfigError
from wasmwatch.runtime import Runtime
from wasmwatch.web.app import App

pytest.importorskip("chdb")
pytest.importorskip("clickhouse_connect")

ADMIN = {"Authorization": f"Bearer {TOKEN}"}


class Node:
    def __init__(self, runtime: Runtime, client: httpx.AsyncClient) -> None:
        self.runtime = runtime
        self.client = client


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[dict[str, Node]]:
    """The evaluator (started first: it makes the default project) and one ingest node."""
    store = f"chdb://{tmp_path / 'chdb'}"
    out: dict[str, Node] = {}
    started: list[tuple[Runtime, httpx.AsyncClient]] = []
    try:
        for role in ("evaluator", "ingest"):
            settings = settings_for(tmp_path / role, role=role, store=store, retention_days=3650)
            rt = Runtime(settings, clock=ManualClock(NOW))
            await rt.start()
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=App(rt)),
                                       base_url="http://testserver")
            started.append((rt, client))
            out[role] = Node(rt, client)
        yield out
    finally:
        for rt, client in reversed(started):
            await client.aclose()
            assert await rt.stop() == []


async def _until(check: Any, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def test_items_sent_to_ingest_are_read_by_the_evaluator(nodes: dict[str, Node]) -> None:
    """A 2xx from the ingest node means the evaluator's summary already counts the items."""
    items = [item(ms=float(v), ts=NOW - 1000) for v in range(1, 41)]
    r = await nodes["ingest"].client.post(f"/api/v1/ingest?key={KEY}", json=envelope(items))
    assert r.status_code == 200 and r.json()["accepted"] == 40
    body = (await nodes["evaluator"].client.get("/api/v1/summary?window=1h", headers=ADMIN)).json()
    render = body["operations"]["render"]
    assert render["count"] == 40 and render["p50_ms"] == 20.5  # exact, as on DuckDB


async def test_a_replay_to_another_node_is_a_duplicate(nodes: dict[str, Node]) -> None:
    """Idempotency holds across nodes: ids stored through one node are duplicates on the other."""
    batch = envelope([item(ts=NOW - 2000) for _ in range(5)])
    first = await nodes["ingest"].client.post(f"/api/v1/ingest?key={KEY}", json=batch)
    again = await nodes["evaluator"].client.post(f"/api/v1/ingest?key={KEY}", json=batch)
    assert first.json()["duplicates"] == 0
    assert again.json() == {"accepted": 0, "rejected": [], "duplicates": 5}
    store = nodes["evaluator"].runtime.store
    assert store is not None and store.stored_count() == 5


async def test_ingest_node_keeps_no_state_and_serves_no_dashboard(nodes: dict[str, Node],
                                                                  tmp_path: Path) -> None:
    """The ingest node writes nothing to its data dir and leaves the dashboard to the evaluator."""
    await nodes["ingest"].client.post(f"/api/v1/ingest?key={KEY}", json=envelope([item()]))
    assert (await nodes["ingest"].client.get("/dashboard")).status_code == 404
    summary = await nodes["ingest"].client.get("/api/v1/summary", headers=ADMIN)
    assert summary.status_code == 404 and "evaluator" in summary.json()["error"]
    assert (await nodes["ingest"].client.get("/readyz")).status_code == 200
    assert (await nodes["evaluator"].client.get("/dashboard")).status_code == 200
    assert not list((tmp_path / "ingest").glob("*.duckdb"))
    assert (tmp_path / "evaluator" / "wasmwatch-local.duckdb").exists()


async def test_a_key_made_on_the_evaluator_works_on_ingest(nodes: dict[str, Node]) -> None:
    """Projects and keys live in the shared store; ingest nodes reload them."""
    r = await nodes["evaluator"].client.post(
        "/api/v1/projects", headers=ADMIN, json={"id": "shop", "name": "Shop"})
    assert r.status_code in (200, 201), r.text
    key = r.json()["key"]["key"]
    await nodes["ingest"].runtime._refresh_keys()
    sent = await nodes["ingest"].client.post(f"/api/v1/ingest?key={key}", json=envelope([item()]))
    assert sent.json()["accepted"] == 1


async def test_evaluator_alerts_on_items_ingested_elsewhere(nodes: dict[str, Node]) -> None:
    """The evaluator follows the shared store: a critical error sent to an ingest node fires."""
    err = item("error", kind="unreachable", category="critical", message="trap", ts=NOW - 500)
    await nodes["ingest"].client.post(f"/api/v1/ingest?key={KEY}", json=envelope([err]))

    async def fired() -> list[dict[str, Any]]:
        body = (await nodes["evaluator"].client.get("/api/v1/alerts", headers=ADMIN)).json()
        return [a for a in body["alerts"] if a["rule"] == "critical_error"]

    assert await _until(fired)


def test_split_roles_need_a_shared_store(tmp_path: Path) -> None:
    """An ingest or evaluator node on a DuckDB file is refused with the reason."""
    with pytest.raises(ConfigError, match="shared store"):
        Runtime(settings_for(tmp_path, role="ingest"))


def _envelopes() -> list[dict[str, Any]]:
    """A small mixed data set over two releases and sessions, every item type."""
    out = []
    for n, release in enumerate(("1.0.0", "1.1.0")):
        items = [item(ms=float(3 * v + n), ts=NOW - 60_000 * v, name=("render", "save")[v % 2],
                      ok=v % 5 != 0) for v in range(1, 30)]
        items += [item("error", kind="unreachable", category="critical", message=f"trap {v % 2}",
                       stack="at f (app.wasm:wasm-function[2]:0x8d)", operation="render",
                       ts=NOW - 90_000 * v - 1000 * n) for v in range(1, 6)]
        items += [item("bundle_load", total_ms=200.0 + v, cached=v % 2 == 0, ts=NOW - 5000 * v)
                  for v in range(4)]
        items += [item(t, ts=NOW - 7000) for t in ("runtime_init", "memory", "engagement",
                                                      "feature", "offline_sync", "measurement")]
        out.append(envelope(items, release=release, session=f"s{n}"))
    return out


READS = ["/api/v1/summary?window=1h", "/api/v1/summary?window=24h",
         "/api/v1/series?metric=operation&window=1h&step=1m",
         "/api/v1/series?metric=errors&window=6h&step=5m", "/api/v1/errors?window=24h",
         "/api/v1/items?limit=500", "/api/v1/releases", "/api/v1/session?id=s1",
         "/api/v1/insights?window=24h"]


@pytest.fixture
async def duck(tmp_path: Path) -> AsyncIterator[Node]:
    """A single DuckDB node: the reference."""
    rt = Runtime(settings_for(tmp_path / "duck"), clock=ManualClock(NOW))
    await rt.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=App(rt)),
                                 base_url="http://testserver") as client:
        yield Node(rt, client)
    await rt.stop()


def _sorted_items(body: Any) -> Any:
    if isinstance(body, dict) and "items" in body:  # no order is promised among equal ts
        body = {**body, "items": sorted(body["items"], key=lambda i: (i["ts"], i["id"]))}
    return body


async def test_every_read_answers_as_on_duckdb(nodes: dict[str, Node], duck: Node) -> None:
    """The same envelopes give the same JSON from the evaluator on chdb as from DuckDB, on
    every read endpoint (floats to 1e-9: interpolation may differ in the last bit)."""
    for env in _envelopes():
        for client in (duck.client, nodes["ingest"].client):
            r = await client.post(f"/api/v1/ingest?key={KEY}", json=env)
            assert r.status_code == 200 and not r.json()["rejected"]
    store = duck.runtime.store
    assert store is not None
    await duck.runtime.writer.run_exclusive(store.flush, True)  # DuckDB's rollups lag ~1 s
    for path in READS:
        expected = await duck.client.get(path, headers=ADMIN)
        got = await nodes["evaluator"].client.get(path, headers=ADMIN)
        assert expected.status_code == 200, (path, expected.text)
        assert got.status_code == 200, (path, got.text)
        same(_sorted_items(expected.json()), _sorted_items(got.json()), path, _split_percentile)
    await _resolve_then_regress(duck, nodes)


def _split_percentile(path: str) -> bool:
    """DuckDB answers a 24 h summary's first-vs-cached percentiles from its rollup (within 1 %,
    as documented); ClickHouse reads them from the raw loads."""
    if not path.startswith("/api/v1/summary?window=24h"):
        return False
    last = path.rsplit(".", 1)[-1]
    in_split = ".first." in path or ".cached." in path or last == "compile_instantiate_p95_ms"
    return in_split and (last.startswith("p") or last == "compile_instantiate_p95_ms")


async def _resolve_then_regress(duck: Node, nodes: dict[str, Node]) -> None:
    """A resolved group (state kept by the evaluator) that errs again reads as regressed."""
    groups = (await duck.client.get("/api/v1/errors?window=1h", headers=ADMIN)).json()["groups"]
    change = {"fingerprint": groups[0]["fingerprint"], "state": "resolved"}
    later = [item("error", kind="unreachable", category="critical", message="trap 1",
                  stack="at f (app.wasm:wasm-function[2]:0x8d)", operation="render",
                  ts=NOW + 60_000)]
    for node, sender in ((duck, duck), (nodes["evaluator"], nodes["ingest"])):
        r = await node.client.post("/api/v1/errors/state", headers=ADMIN, json=change)
        assert r.status_code == 200, r.text
        for rt in (node.runtime, sender.runtime):
            assert isinstance(rt.clock, ManualClock)
            rt.clock.advance(NOW + 120_000 - rt.clock.now_ms())
        sent = await sender.client.post(f"/api/v1/ingest?key={KEY}",
                                        json=envelope(later, sent_at=NOW + 60_000))
        assert sent.json()["accepted"] == 1
    expected = (await duck.client.get("/api/v1/errors?window=1h", headers=ADMIN)).json()
    got = (await nodes["evaluator"].client.get("/api/v1/errors?window=1h", headers=ADMIN)).json()
    assert expected.get("groups", [{}])[0].get("state") == "regressed", expected
    same(expected, got)


@pytest.mark.server
def test_serve_on_chdb_keeps_items_across_a_restart(tmp_path: Path) -> None:
    """A real `wasmwatch serve` with store = chdb:///path: ingest, stop, start, read back."""
    env = {"WASMWATCH_STORE": f"chdb://{tmp_path / 'chdb'}", "WASMWATCH_ROLE": "all"}
    server = LiveServer(tmp_path / "data", env=env).start(timeout=60)
    try:
        now = int(time.time() * 1000)
        batch = envelope([item(ms=float(v), ts=now - 1000) for v in range(1, 11)], sent_at=now)
        r = httpx.post(f"{server.url}/api/v1/ingest?key={KEY}", json=batch, timeout=30)
        assert r.json()["accepted"] == 10
    finally:
        assert server.stop() == 0
    assert "store        chdb://" in server.output and "(role all)" in server.output
    server = LiveServer(tmp_path / "data", env=env).start(timeout=60)
    try:
        assert len(server.items()) == 10
        again = httpx.post(f"{server.url}/api/v1/ingest?key={KEY}", json=batch, timeout=30)
        assert again.json()["duplicates"] == 10
    finally:
        server.stop()


def test_role_flag_reaches_settings() -> None:
    """`serve --role ingest` sets the role; an unknown role is refused by the parser."""
    from wasmwatch.cli import parse_args
    from wasmwatch.config import load

    args = parse_args(["serve", "--role", "ingest"])
    assert load({"role": args.role}, environ={}).role == "ingest"
    assert load({}, environ={}).role == "all"
    with pytest.raises(SystemExit):
        parse_args(["serve", "--role", "leader"])
