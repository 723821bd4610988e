"""What the per-key and per-address limits cost per ingest request, and the address table's memory.

Baseline (same run): the one per-project token bucket every request paid before. Measured: the
three limits taken all-or-none (project, key, address) plus finding the client address, direct
and behind a trusted proxy (X-Forwarded-For); and the memory of the per-address table once a
flood from a million distinct addresses has passed (it is bounded by ``address_table_max``).

Usage: .venv/bin/python bench/limits_bench.py [--quick] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

from wasmwatch.ingest.ratelimit import RateLimiter, take_all
from wasmwatch.web.address import TrustedProxies, client_address


def per_call_ns(fn: Callable[[int], object], n: int, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for i in range(n):
            fn(i)
        runs.append((time.perf_counter_ns() - start) / n)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    n, repeat = (50_000, 3) if args.quick else (200_000, 5)
    project, key, address = RateLimiter(1e12), RateLimiter(1e12), RateLimiter(1e12, max_keys=65_536)
    proxies = TrustedProxies(["10.0.0.0/8"])
    peers = [{"client": (f"192.0.{i // 256 % 256}.{i % 256}", 5000)} for i in range(1024)]
    proxied = [{"x-forwarded-for": f"198.51.{i // 256 % 256}.{i % 256}, 10.0.0.2"} for i in range(1024)]
    behind = {"client": ("10.0.0.1", 5000)}
    direct_only = TrustedProxies()

    def old(i: int) -> object:
        return project.take("default", 1, i * 1e-6)

    def new(i: int) -> object:
        who = client_address(peers[i & 1023], {}, direct_only)
        return take_all(((project, "default", 1), (key, "pk_x", 1), (address, who, 1)), i * 1e-6)

    def new_proxied(i: int) -> object:
        who = client_address(behind, proxied[i & 1023], proxies)
        return take_all(((project, "default", 1), (key, "pk_x", 1), (address, who, 1)), i * 1e-6)

    base = per_call_ns(old, n, repeat)
    direct = per_call_ns(new, n, repeat)
    via_proxy = per_call_ns(new_proxied, n, repeat)

    tracemalloc.start()
    flood = RateLimiter(1000, max_keys=65_536)
    for i in range(200_000 if args.quick else 1_000_000):
        flood.take(f"{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}.{i >> 24}", 1, 0.0)
    table_mb = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    result = {
        "machine": f"{os.cpu_count()} cores, shared with other sessions; Python {sys.version.split()[0]}",
        "baseline_ns_per_request": round(base), "limits_ns_per_request": round(direct),
        "limits_behind_proxy_ns_per_request": round(via_proxy),
        "ratio_direct": round(direct / base, 2), "ratio_proxy": round(via_proxy / base, 2),
        "address_table_entries": len(flood), "address_table_mb": round(table_mb, 1),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
