"""Shared fixtures: an in-process app over httpx, and real `wasmwatch serve` processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from wasmwatch.clock import ManualClock
from wasmwatch.config import Settings
from wasmwatch.runtime import Runtime
from wasmwatch.web.app import App

KEY = "pk_test_key"
TOKEN = "adm_test_token"
NOW = 1_764_000_000_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def item(type_: str = "operation", /, **fields: Any) -> dict[str, Any]:
    """One wire item with a fresh id and defaults for its type's required fields."""
    base: dict[str, Any] = {"id": uuid.uuid4().hex, "type": type_, "ts": fields.pop("ts", NOW)}
    defaults = {"operation": {"name": "render", "ms": 12.5}, "bundle_load": {"total_ms": 300.0},
                "runtime_init": {"ms": 120.0}, "error": {"kind": "RuntimeError", "message": "boom"},
                "memory": {"wasm_bytes": 1 << 20}, "engagement": {"visible_ms": 5000.0},
                "feature": {"name": "export"}, "offline_sync": {"synced": 3},
                "measurement": {"name": "fps", "value": 60.0}}
    return {**base, **defaults.get(type_, {}), **fields}


def envelope(items: list[dict[str, Any]], sent_at: int | None = NOW, **context: Any) -> dict[str, Any]:
    ctx = {"session": "s1", "release": "1.0.0", "page": "/", "online": True, **context}
    return {"sent_at": sent_at, "context": ctx, "items": items}


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = dict(data_dir=str(data_dir), ingest_key=KEY, admin_token=TOKEN,
                                poll_interval_s=3600.0, maintenance_interval_s=3600.0)
    return Settings(**{**base, **overrides})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def runtime(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Runtime]:
    rt = Runtime(settings_for(tmp_path / "data"), clock=clock)
    await rt.start()
    yield rt
    await rt.stop()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=App(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def admin() -> dict[str, str]:
    return {"authorization": f"Bearer {TOKEN}"}


@dataclass
class LiveServer:
    """A real `wasmwatch serve` process on a free port."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    key: str = KEY
    admin_token: str = TOKEN
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    output: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LiveServer:
        env = {**os.environ, "WASMWATCH_INGEST_KEY": self.key,
               "WASMWATCH_ADMIN_TOKEN": self.admin_token, **self.env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wasmwatch", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stdout.read() if self.proc.stdout else ''}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("server did not become healthy")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.stdout:
                self.output += self.proc.stdout.read()
                self.proc.stdout.close()
        return code

    def items(self, where_sql: str | None = None, **filters: str) -> list[dict[str, Any]]:
        """Stored rows: over the API while the server runs (``filters`` as /api/v1/items takes
        them), else straight from its DuckDB file (``where_sql``)."""
        if self.proc is not None and self.proc.poll() is None:
            assert where_sql is None, "where_sql needs a stopped server; use filters"
            params = {"window": "30d", "limit": "10000", **filters}
            answer = httpx.get(self.url + "/api/v1/items", params=params, timeout=10,
                               headers={"authorization": f"Bearer {self.admin_token}"})
            answer.raise_for_status()
            return list(reversed(answer.json()["items"]))
        sql = "SELECT * FROM items" + (f" WHERE {where_sql}" if where_sql else "") + " ORDER BY ts"
        con = duckdb.connect(str(self.data_dir / "wasmwatch.duckdb"), read_only=True)
        try:
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        finally:
            con.close()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "data").start()
    yield server
    if server.proc and server.proc.poll() is None:
        server.stop()


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """tests/symbols/app.c built with clang: debug build, stripped copy, shifted build."""
    from tests.symbols.build import build

    try:
        return build(tmp_path_factory.mktemp("wasm"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
