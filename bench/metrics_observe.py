"""Micro-benchmark: ClientMetrics.observe() throughput in rows per second.

Compares observe() on batches of stored rows (a realistic mix of item types and tag values)
with a baseline: a plain Python loop over the same rows that only sums ``ms``. The ratio says
how many "trivial passes over the rows" one observe() costs.

    .venv/bin/python bench/metrics_observe.py [--batch 5000] [--seconds 3]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry

from wasmwatch.store.schema import Row
from wasmwatch.telemetry.client_metrics import ClientMetrics
from wasmwatch.telemetry.exposition import render

TYPES = (
    ["operation"] * 50 + ["engagement"] * 12 + ["memory"] * 10 + ["error"] * 6
    + ["bundle_load"] * 6 + ["runtime_init"] * 6 + ["offline_sync"] * 4 + ["feature"] * 4
    + ["measurement"] * 2
)


def make_rows(n: int, seed: int = 1) -> list[Row]:
    """``n`` rows with a plausible mix of types, tags and durations."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        kind = rng.choice(TYPES)
        rows.append(Row(
            id=f"i{i}", project="default", type=kind, ts=i, client_ts=i, received=i,
            release=f"1.{rng.randrange(4)}", browser=rng.choice(["Chrome", "Firefox", "Safari"]),
            connection=rng.choice(["4g", "wifi", "3g"]), device=rng.choice(["desktop", "mobile"]),
            page=f"/posts/{rng.randrange(30)}", name=f"op_{rng.randrange(40)}",
            ms=rng.lognormvariate(4, 1.2), ok=rng.random() > 0.05, offline=rng.random() < 0.2,
            category=rng.choice(["critical", "runtime", "application"]),
            value=float(rng.randrange(1, 64) << 20), synced=rng.randrange(10),
        ))
    return rows


def rate(fn: Callable[[Sequence[Row]], object], rows: Sequence[Row], seconds: float) -> float:
    """Rows per second that ``fn`` processes, called repeatedly for ``seconds``."""
    fn(rows)  # warm up
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn(rows)
        calls += 1
    return calls * len(rows) / elapsed


def baseline(rows: Sequence[Row]) -> float:
    """A plain loop summing the measurement of every row."""
    total = 0.0
    for row in rows:
        if row.ms is not None:
            total += row.ms
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=5000, help="rows per observe() call")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    rows = make_rows(args.batch)
    registry = CollectorRegistry()
    metrics = ClientMetrics(registry)

    base = rate(baseline, rows, args.seconds)
    observed = rate(metrics.observe, rows, args.seconds)
    start = time.perf_counter()
    body, _ = render(registry)
    scrape_ms = (time.perf_counter() - start) * 1000

    print(f"batch size            {args.batch:>12,d} rows")
    print(f"baseline (sum loop)   {base:>12,.0f} rows/s")
    cost = base / observed
    print(f"ClientMetrics.observe {observed:>12,.0f} rows/s  ({cost:.1f}x the baseline cost)")
    print(f"CPU share at 250k/s   {250_000 / observed:>12.1%}")
    print(f"scrape (render)       {scrape_ms:>12.1f} ms, {len(body):,d} bytes")


if __name__ == "__main__":
    main()
