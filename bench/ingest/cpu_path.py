"""Server CPU per item of the ingest path without HTTP: wasmwatch's own handlers, in process.

A ``Runtime`` on a fresh data dir (real DuckDB file, rollups, hooks, group commit) and
``--conns`` asyncio tasks that each post bodies back to back through the ASGI app
(``wasmwatch.web.app.App``, a minimal in-memory ``receive``/``send``), until ``--items`` items
were acknowledged. Reported: process CPU (all threads, ``time.process_time``) and wall time per
item, the event loop thread's own CPU per item and per request (``time.thread_time``: the
handlers, decode, checks, the commit hooks; the writer thread not in it), and the stored count
(must equal the acknowledged count). Bodies are the ones ``targets.py`` sends (same templates,
unique ids per request; ``single`` one item per body, ``sdk`` the gzip SDK envelopes of 20
mixed items). The loop is uvloop's, as in ``wasmwatch serve``.

This isolates what wasmwatch adds on top of granian (whose share ``targets.py`` measures with
the bare app); CPU time is steadier than items/s on a shared machine. ``--profile FILE`` writes
cProfile stats of the event loop thread (the writer thread is not in it: use py-spy for that).

Run: ``.venv/bin/python bench/ingest/cpu_path.py --loads bulk1000,bulk100,seed1000,seed100``
(``--loads single,sdk --conns 256 --items 30000`` for the small requests)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import targets  # the bodies of the targets benchmark
import uvloop

from wasmwatch.config import Settings
from wasmwatch.runtime import Runtime
from wasmwatch.web.app import App

KEY = "benchkey"
PATHS = {"bulk1000": "/api/v1/ingest", "bulk100": "/api/v1/ingest", "single": "/api/v1/ingest",
         "sdk": "/api/v1/ingest",
         "seed1000": "/api/telemetry/wasm/bulk", "seed100": "/api/telemetry/wasm/bulk"}
PER = {"bulk1000": 1000, "bulk100": 100, "single": 1, "sdk": 20, "seed1000": 1000, "seed100": 100}


class Bodies:
    """The templates of ``targets.py``, filled in per request like ``ingest.lua`` does."""

    def __init__(self, folder: Path, load: str) -> None:
        text = (folder / f"{load}.tmpl").read_bytes().decode()
        self.parts = [body.split("\x01") for body in text.split("\0")]
        self.count = 0

    def next(self, now_ms: int) -> bytes:
        self.count += 1
        parts = self.parts[self.count % len(self.parts)]
        body = f"c{self.count}".join(parts)
        head = str(now_ms // 10_000 - 2)
        body = body.replace("\x02", head).replace("\x03", str(now_ms))
        return body.encode()


class SdkBodies:
    """The gzip SDK envelopes of ``targets.py`` (20 mixed items, unique ids), each sent once."""

    def __init__(self, folder: Path, count: int) -> None:
        path = folder / "sdk.bin"
        targets.write_sdk_bodies(path, count, int(time.time() * 1000), "cpu_path")
        data, self.bodies = path.read_bytes(), []
        while data:
            size = int(data[:8])
            self.bodies.append(data[8:8 + size])
            data = data[8 + size:]
        self.count = 0

    def next(self, now_ms: int) -> bytes:
        self.count += 1
        return self.bodies[self.count - 1]


async def _post(app: App, path: str, body: bytes, gzip: bool = False) -> tuple[int, bytes]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    out: dict[str, Any] = {"body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        else:
            out["body"] += message.get("body", b"")

    scope = {"type": "http", "method": "POST", "path": path, "query_string": f"key={KEY}".encode(),
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()),
                         (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0"),
                         *([(b"content-encoding", b"gzip")] if gzip else [])],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80), "scheme": "http",
             "http_version": "1.1", "root_path": ""}
    await app(scope, receive, send)
    return int(out["status"]), out["body"]


async def run_load(load: str, folder: Path, items: int, conns: int,
                   profile: cProfile.Profile | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ww-cpu-") as tmp:
        settings = Settings(data_dir=tmp, ingest_key=KEY, admin_token="t", rate_limit=1e9,
                            key_rate_limit=1e9, address_rate_limit=1e9,
                            poll_interval_s=3600.0, maintenance_interval_s=3600.0)
        rt = Runtime(settings)
        await rt.start()
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        app = App(rt)
        bodies: Bodies | SdkBodies = (SdkBodies(folder, items // PER[load] + 400) if load == "sdk"
                                      else Bodies(folder, load))
        path, per = PATHS[load], PER[load]
        acked = 0
        failed = 0
        refused = 0

        async def conn(until: int) -> None:
            nonlocal acked, failed, refused
            while acked < until:
                status, _ = await _post(app, path, bodies.next(int(time.time() * 1000)),
                                        load == "sdk")
                if status == 200:
                    acked += per
                elif status in (429, 503):  # refused at once (queue full): back off, as a
                    refused += 1  # client honouring Retry-After would, and let the writer run
                    await asyncio.sleep(0.005)
                else:
                    failed += 1

        await asyncio.gather(*(conn(4 * per) for _ in range(2)))  # warm-up: statements, caches
        warm = acked
        acked = 0
        cpu0, wall0, loop0 = time.process_time(), time.perf_counter(), time.thread_time()
        if profile:
            profile.enable()
        await asyncio.gather(*(conn(items) for _ in range(conns)))
        if profile:
            profile.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        loop_cpu = time.thread_time() - loop0
        await rt.stop()
        import duckdb
        con = duckdb.connect(str(Path(tmp) / "wasmwatch.duckdb"), read_only=True)
        ((stored, distinct),) = con.execute("SELECT count(*), count(DISTINCT id) FROM items").fetchall()
        con.close()
    return {"load": load, "items": acked, "cpu_us_per_item": cpu / acked * 1e6,
            "loop_cpu_us_per_item": loop_cpu / acked * 1e6,
            "loop_cpu_us_per_request": loop_cpu / acked * per * 1e6,
            "wall_us_per_item": wall / acked * 1e6, "items_per_s_wall": acked / wall,
            "stored": stored, "distinct": distinct, "acked_total": acked + warm, "failed": failed,
            "refused": refused,
            "stored_equals_acked": stored == distinct == acked + warm}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loads", default="bulk1000,bulk100,seed1000,seed100")
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--profile", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ww-tmpl-") as folder:
        random.seed(8)
        targets.write_templates(Path(folder))
        results = []
        for load in args.loads.split(","):
            profile = cProfile.Profile() if args.profile else None
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            result = asyncio.run(run_load(load, Path(folder), args.items, args.conns, profile))
            if profile and args.profile:
                profile.dump_stats(f"{args.profile}.{load}")
            results.append(result)
            print(json.dumps(result), flush=True)
    return 0 if all(r["stored_equals_acked"] and not r["failed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
