"""Write a data dir with wasmwatch at 97b3e78 (layout v2, before the carried context):
real ingest over HTTP in-process, two batches with different contexts, every item type.

Run from a checkout of 97b3e78 (``git archive 97b3e78 | tar -x -C DIR``):
``cd DIR && python .../make_v2.py OUT`` (with this project's interpreter), then gzip
``OUT/wasmwatch.duckdb`` to ``v2.duckdb.gz``.
"""
import asyncio
import shutil
import sys
from pathlib import Path

sys.path.insert(0, ".")
import httpx

from tests.conftest import KEY, NOW, envelope, item, settings_for
from wasmwatch.clock import ManualClock
from wasmwatch.runtime import Runtime
from wasmwatch.web.app import App

CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


async def main(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    rt = Runtime(settings_for(out), clock=ManualClock(NOW))
    await rt.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=App(rt)), base_url="http://t") as c:
        kinds = ["bundle_load", "runtime_init", "operation", "error", "memory", "engagement",
                 "feature", "offline_sync", "measurement"]
        items = [item(k, id=f"v2-{k}", ts=NOW - 60_000) for k in kinds]
        items[3].update(stack="at f (wasm://wasm/1:wasm-function[3]:0x5c)", category="runtime")
        r = await c.post(f"/api/v1/ingest?key={KEY}", json=envelope(items, release="0.9.0"),
                         headers={"user-agent": CHROME})
        print(r.json())
        ops = [item("operation", id=f"v2-op{i}", ts=NOW - i * 1000, ms=float(i)) for i in range(20)]
        ops.append(item("error", id="v2-err2", ts=NOW - 500))
        r = await c.post(f"/api/v1/ingest?key={KEY}",
                         json=envelope(ops, session="s2", release="1.0.0"),
                         headers={"user-agent": FIREFOX})
        print(r.json())
    await rt.stop()

asyncio.run(main(Path(sys.argv[1])))
