"""Write a data dir with wasmwatch at 2e0b87d (layout v1): real ingest over HTTP in-process."""
import asyncio
import shutil
import sys
from pathlib import Path

sys.path.insert(0, "/work/wt-storage")
import httpx

from tests.conftest import KEY, NOW, envelope, item, settings_for
from wasmwatch.clock import ManualClock
from wasmwatch.runtime import Runtime
from wasmwatch.web.app import App


async def main(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    rt = Runtime(settings_for(out), clock=ManualClock(NOW))
    await rt.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=App(rt)), base_url="http://t") as c:
        kinds = ["bundle_load", "runtime_init", "operation", "error", "memory", "engagement",
                 "feature", "offline_sync", "measurement"]
        items = [item(k, id=f"v1-{k}", ts=NOW - 60_000) for k in kinds]
        items[2].update(ok=False, expected_ms=10.0)
        items[3].update(stack="at f (wasm://wasm/1:wasm-function[3]:0x5c)", category="runtime")
        items[8].update(tags={"scene": "editor"})
        r = await c.post(f"/api/v1/ingest?key={KEY}", json=envelope(items, release="0.9.0"),
                         headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"})
        print(r.json())
        r = await c.post(f"/api/v1/ingest?key={KEY}", json=envelope([item("operation", id=f"v1-op{i}", ts=NOW - i * 1000, ms=float(i)) for i in range(20)], session="s2"))
        print(r.json())
    await rt.stop()

asyncio.run(main(Path(sys.argv[1])))
