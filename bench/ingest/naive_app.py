"""Baseline (b): a naive "typical" ingest server, what a simple app would do.

Same endpoint and answer shape as wasmwatch (``POST /api/v1/ingest?key=KEY`` with the batch
envelope of docs/protocol.md), on the same embedded granian: the body is parsed with the stdlib
``json`` module, each item becomes a tuple of the same wide row shape (context copied in, a few
field checks), and the request's rows are inserted with one ``executemany`` in their own
transaction (``BEGIN`` .. ``COMMIT``), so a 200 is as durable as wasmwatch's (DuckDB WAL
written and synced at commit). The DuckDB connection is used from one worker thread, one
request at a time: no group commit, no columnar batch.

Run: ``.venv/bin/python bench/ingest/naive_app.py --port 8802 --data-dir D --key k``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import duckdb

COLUMNS = {
    "id": "VARCHAR NOT NULL", "project": "VARCHAR NOT NULL", "type": "VARCHAR NOT NULL",
    "ts": "BIGINT NOT NULL", "received": "BIGINT NOT NULL", "session": "VARCHAR",
    "release": "VARCHAR", "page": "VARCHAR", "connection": "VARCHAR", "device": "VARCHAR",
    "user_agent": "VARCHAR", "name": "VARCHAR", "ms": "DOUBLE", "ok": "BOOLEAN",
    "offline": "BOOLEAN", "cached": "BOOLEAN", "transfer_bytes": "BIGINT", "category": "VARCHAR",
    "kind": "VARCHAR", "message": "VARCHAR", "stack": "VARCHAR", "value": "DOUBLE",
    "unit": "VARCHAR", "tags": "VARCHAR", "synced": "BIGINT", "pending": "BIGINT",
}
INSERT = f"INSERT INTO items VALUES ({', '.join('?' for _ in COLUMNS)})"
TYPES = {"bundle_load", "runtime_init", "operation", "error", "memory", "engagement", "feature",
         "offline_sync", "measurement"}


class Naive:
    def __init__(self, data_dir: Path, key: str) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(data_dir / "naive.duckdb"))
        cols = ", ".join(f"{name} {sql}" for name, sql in COLUMNS.items())
        self.con.execute(f"CREATE TABLE IF NOT EXISTS items ({cols})")
        self.key = key
        self.executor = ThreadPoolExecutor(1)

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        self.con.execute("BEGIN")
        try:
            self.con.executemany(INSERT, rows)
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise

    def to_row(self, item: dict[str, Any], ctx: dict[str, Any], ua: str, now: int) -> tuple[Any, ...]:
        if not isinstance(item.get("id"), str) or item.get("type") not in TYPES:
            raise ValueError("bad id or type")
        ts = item.get("ts")
        if not isinstance(ts, int | float) or not math.isfinite(ts):
            raise ValueError("bad ts")
        ms = item.get("ms", item.get("total_ms", item.get("visible_ms")))
        tags = item.get("tags")
        return (
            item["id"], "default", item["type"], int(ts), now, ctx.get("session"),
            ctx.get("release"), ctx.get("page"), ctx.get("connection"), ctx.get("device"), ua,
            item.get("name", item.get("url", item.get("operation"))),
            None if ms is None else min(max(float(ms), 0.0), 60000.0),
            item.get("ok"), item.get("offline"), item.get("cached"), item.get("transfer_bytes"),
            item.get("category"), item.get("kind"), item.get("message"), item.get("stack"),
            item.get("value", item.get("wasm_bytes", item.get("memory_bytes"))), item.get("unit"),
            json.dumps(tags) if tags else None, item.get("synced"), item.get("pending"),
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        query = parse_qs(scope.get("query_string", b"").decode())
        if scope["path"] != "/api/v1/ingest" or query.get("key", [""])[0] != self.key:
            return await respond(send, 404, {"error": "not found"})
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            payload = json.loads(b"".join(chunks))
            ctx = payload.get("context") or {}
            items = payload["items"]
        except (ValueError, KeyError, AttributeError) as exc:
            return await respond(send, 400, {"error": str(exc)})
        now = int(time.time() * 1000)
        ua = headers.get("user-agent", "")
        rows, rejected = [], []
        for index, item in enumerate(items):
            try:
                rows.append(self.to_row(item, ctx, ua, now))
            except (ValueError, TypeError) as exc:
                rejected.append({"index": index, "error": str(exc)})
        if rows:
            await asyncio.get_running_loop().run_in_executor(self.executor, self.insert, rows)
        await respond(send, 200, {"accepted": len(rows), "rejected": rejected, "duplicates": 0})


async def respond(send: Any, status: int, data: Any) -> None:
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def serve(args: argparse.Namespace) -> None:
    from granian.constants import Interfaces
    from granian.server.embed import Server

    app = Naive(Path(args.data_dir), args.key)
    server = Server(app, address=args.host, port=args.port, interface=Interfaces.ASGINL,
                    log_enabled=False, backlog=2048)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop)
    print(f"naive app listening on http://{args.host}:{args.port}", flush=True)
    try:
        await server.serve()
    finally:
        app.executor.shutdown(wait=True)
        app.con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8802)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--key", default="k")
    args = parser.parse_args()
    import uvloop

    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
