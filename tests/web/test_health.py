"""/healthz and /readyz tell the truth; a stop says what it could not do (store seam doubles)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.conftest import KEY, envelope, item, settings_for
from wasmwatch.clock import ManualClock
from wasmwatch.errors import StoreError
from wasmwatch.runtime import Runtime
from wasmwatch.web.app import App


class FailingStore:
    """A store whose writes fail as a full disk makes them fail."""

    def __init__(self) -> None:
        self.calls = 0

    def write(self, prepared: object, want_rows: bool = False,
              columns: tuple[str, ...] | None = None) -> object:
        self.calls += 1
        raise StoreError("write failed: IO Error: No space left on device")


async def test_ready_when_the_store_takes_writes(client: httpx.AsyncClient) -> None:
    """A fresh server is alive and ready, and both say so in JSON."""
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"


async def test_failing_commit_makes_readyz_503_while_healthz_stays_ok(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """After a failed commit /readyz answers 503 naming it; a later good commit makes it ready."""
    real = runtime.writer.store
    runtime.writer.store = FailingStore()
    r = await client.post(f"/api/v1/ingest?key={KEY}", json=envelope([item()]))
    assert r.status_code == 503
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["retry-after"] == "5"
    assert "No space left on device" in ready.json()["failing"]["commit"]
    assert (await client.get("/healthz")).status_code == 200
    runtime.writer.store = real
    assert (await client.post(f"/api/v1/ingest?key={KEY}", json=envelope([item()]))).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


async def test_low_disk_space_makes_readyz_503(tmp_path: Path, clock: ManualClock) -> None:
    """A minimum free space above what the disk has is reported as the `disk` check."""
    rt = Runtime(settings_for(tmp_path / "data", ready_min_free_bytes=1 << 62), clock=clock)
    await rt.start()
    try:
        failing = rt.readiness()
        assert set(failing) == {"disk"} and "under the" in failing["disk"]
    finally:
        await rt.stop()


async def test_stopped_runtime_is_not_ready(tmp_path: Path, clock: ManualClock) -> None:
    """Once stopped, the store and writer checks fail."""
    rt = Runtime(settings_for(tmp_path / "data"), clock=clock)
    await rt.start()
    assert rt.readiness() == {}
    assert await rt.stop() == []
    assert {"store", "writer"} <= set(rt.readiness())


async def test_stop_reports_items_it_could_not_commit(tmp_path: Path, clock: ManualClock) -> None:
    """Items waiting at stop whose commit fails are reported, not called committed."""
    rt = Runtime(settings_for(tmp_path / "data"), clock=clock)
    await rt.start()
    rt.writer.store = FailingStore()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=App(rt)),
                                 base_url="http://t") as c:
        request = asyncio.create_task(  # noqa: RUF006 - awaited below
            c.post(f"/api/v1/ingest?key={KEY}", json=envelope([item() for _ in range(3)])))
        while rt.writer.depth == 0:
            await asyncio.sleep(0)
        problems = await rt.stop()
        assert (await request).status_code == 503
    assert len(problems) == 1 and problems[0].startswith("3 items waiting at stop could not")
    assert "No space left on device" in problems[0]
