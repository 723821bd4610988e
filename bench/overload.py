"""Overload: a real `wasmwatch serve` offered twice what it can commit, open loop.

1. capacity: 8 concurrent senders of 1000-item batches (the mix of bench/ingest) for
   ``--capacity-s`` seconds, closed loop; capacity = acknowledged items/s;
2. overload: batches (built beforehand) sent on a fixed schedule at twice that rate for
   ``--overload-s`` seconds, each on its own connection and task, whatever the server answers;
3. SIGTERM, then the stored rows are counted in the DuckDB file (read-only).

Reports the answers by status (2xx / 429 / 503 / other / client errors), items acknowledged
vs stored (they must be equal: a 2xx means durable, a 503 means not stored), the write queue
limit, and the server's peak RSS (VmRSS, sampled every 0.1 s) against its RSS before the load,
and its RSS (anonymous and file-backed parts) 8 s after the load. The server runs on the
interpreter that runs this script (another worktree's ``.venv/bin/python`` measures that
commit's server).

Run: ``.venv/bin/python bench/overload.py [--capacity-s 5] [--overload-s 10]``; writes
``bench/out/overload-q<queue>.json`` (tracked files are not touched).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "ingest"))
import harden.server  # noqa: E402
from harden.server import KEY, Server  # noqa: E402
from run import MIX, make_body, make_item  # noqa: E402

OUT = HERE / "out"


class Load:
    """Sends pre-built requests over raw asyncio streams (one connection each, closed after
    the answer): far less client CPU than an HTTP library, so the offered rate holds."""

    def __init__(self, server: Server, templates: list[bytes]) -> None:
        self.server = server
        self.templates = templates
        self.statuses: Counter[str] = Counter()
        self.acked = 0
        self.sent = 0

    def request(self) -> bytes:
        now = int(time.time() * 1000)
        template = self.templates[self.sent % len(self.templates)]
        self.sent += 1
        body = (template.replace(b"\x01", os.urandom(8).hex().encode())
                .replace(b"\x02", str(now // 10000).encode())
                .replace(b"\x03", str(now).encode()))
        head = (f"POST /api/v1/ingest?key={KEY} HTTP/1.1\r\nHost: bench\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n")
        return head.encode() + body

    async def send(self, request: bytes | None = None) -> None:
        request = request or self.request()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
            writer.write(request)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(-1), 120)
            writer.close()
        except (OSError, TimeoutError) as exc:
            self.statuses[type(exc).__name__] += 1
            return
        status = answer[9:12].decode() if answer.startswith(b"HTTP/1.1 ") else "garbled"
        self.statuses[status] += 1
        if status == "200":
            body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
            self.acked += body["accepted"] + body["duplicates"]


async def capacity(load: Load, seconds: float) -> float:
    end = time.monotonic() + seconds

    async def sender() -> None:
        while time.monotonic() < end:
            await load.send()

    started = time.monotonic()
    await asyncio.gather(*(sender() for _ in range(8)))
    return load.acked / (time.monotonic() - started)


async def overload(load: Load, items_per_s: float, seconds: float) -> float:
    interval = 1000 / items_per_s
    requests = [load.request() for _ in range(int(seconds / interval))]  # built before the clock
    tasks = []
    started = time.monotonic()
    for n, request in enumerate(requests):
        await asyncio.sleep(max(0.0, started + n * interval - time.monotonic()))
        tasks.append(asyncio.create_task(load.send(request)))
    offered_s = time.monotonic() - started
    await asyncio.gather(*tasks)
    return len(tasks) * 1000 / offered_s


def rss_parts(pid: int) -> dict[str, float]:
    kb = {line.split(":")[0]: int(line.split()[1])
          for line in Path(f"/proc/{pid}/status").read_text().splitlines()
          if line.startswith(("VmRSS", "RssAnon", "RssFile"))}
    return {"rss_mb": round(kb["VmRSS"] / 1024, 1), "anon_mb": round(kb["RssAnon"] / 1024, 1),
            "file_mb": round(kb["RssFile"] / 1024, 1)}


def rss_after(pid: int, quiet_s: float = 8.0) -> dict[str, float]:
    """RSS once the load is over: after ``quiet_s`` with nothing sent (the server commits
    what it queued, and gives freed memory back if it does)."""
    time.sleep(quiet_s)
    return rss_parts(pid)


def templates() -> list[bytes]:
    rng = random.Random(6)
    kinds, weights = list(MIX), list(MIX.values())
    return [make_body([(k, make_item(k, rng)) for k in rng.choices(kinds, weights, k=1000)],
                      rng).encode() for _ in range(4)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capacity-s", type=float, default=5.0)
    parser.add_argument("--overload-s", type=float, default=10.0)
    parser.add_argument("--factor", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="offer this many items/s instead of factor x capacity (to compare "
                             "memory at the same load)")
    parser.add_argument("--queue-max-items", type=int, default=300_000,
                        help="the server's write queue limit (its default: 300,000)")
    parser.add_argument("--quick", action="store_true", help="3 s capacity, 5 s overload")
    parser.add_argument("--label", default="", help="added to the output file's name")
    parser.add_argument("--port", type=int, default=0,
                        help="the server's port (default: any free one)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="set in the server's environment (e.g. MALLOC_ARENA_MAX=1)")
    args = parser.parse_args(argv)
    os.environ.update(pair.split("=", 1) for pair in args.env)
    if args.port:
        harden.server.free_port = lambda: args.port
    if args.quick:
        args.capacity_s, args.overload_s = 3.0, 5.0
    bodies = templates()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", queue_max_items=args.queue_max_items)
        try:
            rss_before = server.rss()
            cap_load = Load(server, bodies)
            cap = asyncio.run(capacity(cap_load, args.capacity_s))
            load = Load(server, bodies)
            server.sample_peak()
            rate = args.rate or cap * args.factor
            offered = asyncio.run(overload(load, rate, args.overload_s))
            peak = server.stop_sampling()
            after = rss_after(server.proc.pid)
        finally:
            code, output = server.stop()
        con = duckdb.connect(str(Path(tmp) / "data" / "wasmwatch.duckdb"), read_only=True)
        stored = con.execute("SELECT count(*) FROM items").fetchone()[0]
        con.close()
    acked = cap_load.acked + load.acked
    report: dict[str, Any] = {
        "capacity_items_per_s": round(cap), "factor": args.factor,
        "queue_max_items": args.queue_max_items,
        "offered_items_per_s": round(offered), "overload_s": args.overload_s,
        "answers": dict(load.statuses), "acknowledged_items": acked, "stored_items": stored,
        "acknowledged_equals_stored": acked == stored,
        "rss_before_mb": round(rss_before, 1), "rss_peak_mb": round(peak, 1),
        "rss_after_8s": after, "python": sys.executable, "env": args.env,
        "stop_exit_code": code, "stop_line": output.strip().splitlines()[-1],
        "cpus": os.cpu_count(), "load_average_before": os.getloadavg()[0],
    }
    print(json.dumps(report, indent=1))
    OUT.mkdir(exist_ok=True)
    (OUT / f"overload-q{args.queue_max_items}{args.label}.json").write_text(json.dumps(report, indent=1))
    return 0 if acked == stored else 1


if __name__ == "__main__":
    sys.exit(main())
