"""Slow clients: 2,000 stalled connections on loopback against one `wasmwatch serve`.

Half stall in the request head (a head that never ends), half in the body (Content-Length
100000, 100 bytes sent). Measured in one run, per server configuration:

- the latency of normal requests (single-item ingest, sequential, one keep-alive connection)
  without slow connections (baseline) and while the 2,000 are held open;
- the server's RSS before, at peak while they are open, and after the timeouts;
- how many slow connections the server has closed ``timeout + 2`` s after they opened.

Three configurations: wasmwatch's timeouts (``--timeout`` s for head and body, 5 s by default to
keep the run short; the shipped defaults are 10 s and 20 s), and "no timeouts" (both 3600 s),
which is how the server behaved before: stalled bodies held open without limit; and the
timeouts with ``max_connections=500``, below the 2,000: the cap bounds memory, and a new
connection waits in the listen backlog until the timeouts free a slot (its first answer is
timed as ``new_connection_first_answer_ms``).

Run: ``.venv/bin/python bench/slow_clients.py [--slow 2000] [--timeout 5]``; writes
``bench/out/slow_clients.json`` (tracked files are not touched).
"""

from __future__ import annotations

import argparse
import json
import platform
import select
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harden.server import KEY, Server

OUT = Path(__file__).resolve().parent / "out" / "slow_clients.json"


def normal_latencies(server: Server, n: int) -> dict[str, float]:
    times = []
    failures = 0
    with httpx.Client(timeout=30) as client:
        for _ in range(n):
            now = int(time.time() * 1000)
            body = {"sent_at": now, "context": {"session": "bench"},
                    "items": [{"id": uuid.uuid4().hex, "type": "operation", "ts": now,
                               "name": "render", "ms": 3.0}]}
            started = time.perf_counter()
            r = client.post(f"{server.url}/api/v1/ingest", params={"key": KEY}, json=body)
            times.append((time.perf_counter() - started) * 1000)
            failures += r.status_code != 200
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 2),
            "p95_ms": round(times[int(len(times) * 0.95)], 2),
            "p99_ms": round(times[int(len(times) * 0.99)], 2),
            "mean_ms": round(statistics.mean(times), 2), "failures": failures}


def open_slow(server: Server, n: int) -> list[socket.socket]:
    socks = []
    for i in range(n):
        sock = socket.create_connection(("127.0.0.1", server.port))
        if i % 2:
            sock.sendall(b"POST /api/v1/ingest?key=" + KEY.encode() + b" HTTP/1.1\r\nHost: b\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                         + b'{"items":[' + b" " * 90)
        else:
            sock.sendall(b"POST /api/v1/ingest HTTP/1.1\r\nHost: b\r\nContent-Le")
        socks.append(sock)
    return socks


def closed_by_server(socks: list[socket.socket]) -> int:
    """Sockets the server has closed (readable and at EOF after any response)."""
    closed = 0
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLIN)
    readable = {fd for fd, _ in poller.poll(0)}
    for sock in socks:
        if sock.fileno() not in readable:
            continue
        sock.setblocking(False)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    closed += 1
                    break
        except (BlockingIOError, ConnectionResetError) as exc:
            closed += isinstance(exc, ConnectionResetError)
    return closed


def run(label: str, args: argparse.Namespace, timeout_s: float,
        max_connections: int = 4096) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", header_timeout_s=timeout_s, body_timeout_s=timeout_s,
                        max_connections=max_connections)
        try:
            normal_latencies(server, 50)  # warm-up
            base = normal_latencies(server, args.requests)
            rss_before = server.rss()
            server.sample_peak()
            opened = time.monotonic()
            socks = open_slow(server, args.slow)
            open_s = time.monotonic() - opened
            first = time.perf_counter()
            httpx.get(server.url + "/healthz", timeout=120)
            first_answer_ms = round((time.perf_counter() - first) * 1000, 1)
            during = normal_latencies(server, args.requests)
            time.sleep(max(0.0, opened + args.timeout + 2 - time.monotonic()))
            peak = server.stop_sampling()
            closed = closed_by_server(socks)
            rss_after = server.rss()
            for sock in socks:
                sock.close()
        finally:
            code, _ = server.stop()
    result = {"label": label, "timeout_s": timeout_s, "max_connections": max_connections,
              "slow_connections": args.slow, "new_connection_first_answer_ms": first_answer_ms,
              "open_s": round(open_s, 2), "latency_without": base, "latency_during": during,
              "p50_ratio": round(during["p50_ms"] / base["p50_ms"], 2),
              "p99_ratio": round(during["p99_ms"] / base["p99_ms"], 2),
              "rss_before_mb": round(rss_before, 1), "rss_peak_mb": round(peak, 1),
              "rss_after_mb": round(rss_after, 1),
              "closed_by_server_after_s": args.timeout + 2, "closed_by_server": closed,
              "exit_code": code}
    print(json.dumps(result, indent=1), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="500 slow connections")
    args = parser.parse_args(argv)
    if args.quick:
        args.slow = 500
    runs = [run("wasmwatch timeouts", args, args.timeout), run("no timeouts", args, 3600.0),
            run("timeouts, cap 500 connections", args, args.timeout, max_connections=500)]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"machine": {"cpus": __import__("os").cpu_count(),
                                           "python": platform.python_version()},
                               "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
