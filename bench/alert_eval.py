"""Benchmark: alert evaluation at 10 M stored items (incremental windows vs. querying the store).

Generates ``--items`` items (default 10 M, over 24 h, the generator of ``summary_bench.py``)
into a DuckDB file, then with the default rules measures:

* the start-up refill of the windows from the store (``Evaluator.backfill``, one GROUP BY per
  rule over its window and baseline),
* CPU per evaluation tick (``AlertService``-equivalent: evaluate every window, step the state
  machine), with a commit of live rows fed through ``observe`` before each tick,
* CPU per item of the commit hook (``Evaluator.observe``) over the stored mix,
* the baseline, measured in the same run: an evaluator that queries the store every tick
  (each rule's window read by the same SQL the refill uses).

Run: ``.venv/bin/python bench/alert_eval.py [--items N] [--ticks T] [--db PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summary_bench import NOW_MS, batch_sql

from wasmwatch.alerts.evaluate import Evaluator
from wasmwatch.alerts.rules import load_rules
from wasmwatch.alerts.source import DuckDBSource
from wasmwatch.alerts.state import StateMachine
from wasmwatch.store import layout
from wasmwatch.store.schema import Row

OUT = Path(__file__).resolve().parent / "out" / "alert_eval.json"


def load(con: duckdb.DuckDBPyConnection, total: int, chunk: int = 1_000_000) -> float:
    started = time.perf_counter()
    for lo in range(0, total, chunk):
        con.execute(f"CREATE OR REPLACE TEMP TABLE wide AS {batch_sql(lo, min(total, lo + chunk), total)}")
        layout.load_wide(con, "wide")
        print(f"  wrote {min(total, lo + chunk):>10,} items", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return time.perf_counter() - started


def rows_near(con: duckdb.DuckDBPyConnection, n: int) -> list[Row]:
    cur = con.execute("SELECT * FROM items ORDER BY ts DESC LIMIT ?", [n])
    names = [d[0] for d in cur.description or ()]
    return [msgspec.convert(dict(zip(names, r, strict=True)), Row) for r in cur.fetchall()]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000_000)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--db", help="reuse this DuckDB file (made if missing)")
    parser.add_argument("--quick", action="store_true", help="1 M items, 100 ticks")
    args = parser.parse_args()
    if args.quick:
        args.items, args.ticks = 1_000_000, 100
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "alerts.duckdb"
    fresh = not path.exists()
    con = duckdb.connect(str(path))
    for ddl in (*layout.tables(), layout.view()):
        con.execute(ddl)
    load_s = load(con, args.items) if fresh else 0.0
    stored = con.execute("SELECT count(*) FROM items").fetchone()[0]  # type: ignore[index]
    rules = load_rules([])
    source = DuckDBSource(lambda: con)

    ev = Evaluator(rules)
    cpu, wall = time.process_time(), time.perf_counter()
    buckets = ev.backfill(source, "default", NOW_MS)
    backfill = {"wall_ms": (time.perf_counter() - wall) * 1000, "cpu_ms": (time.process_time() - cpu) * 1000,
                "buckets": buckets}

    live = rows_near(con, 200_000)
    # the commit hook, per item, over the stored mix arriving now (as a commit's rows do)
    hook = Evaluator(rules)
    arriving = [msgspec.structs.replace(r, ts=NOW_MS - k % 1000) for k, r in enumerate(live)]
    cpu = time.process_time()
    for k in range(0, len(arriving), 500):
        hook.observe(arriving[k:k + 500], NOW_MS)
    observe_us = (time.process_time() - cpu) / len(arriving) * 1e6
    # baseline in the same run: the metrics hook every commit already feeds
    from prometheus_client import CollectorRegistry

    from wasmwatch.telemetry import ClientMetrics
    metrics = ClientMetrics(CollectorRegistry())
    cpu = time.process_time()
    for k in range(0, len(arriving), 500):
        metrics.observe(arriving[k:k + 500])
    metrics_us = (time.process_time() - cpu) / len(arriving) * 1e6

    # ticks: a commit of ~115 rows (the data set's rate per second), then an evaluation
    sm = StateMachine("default")
    per_tick: list[float] = []
    for t in range(args.ticks):
        now = NOW_MS + t * 1000
        chunk = [msgspec.structs.replace(r, ts=now) for r in live[t * 115:(t + 1) * 115]]
        ev.observe(chunk, now)
        cpu = time.process_time()
        samples = ev.evaluate(now)
        for rule in rules:
            sm.step(rule, [s for s in samples if s.rule is rule], now, lambda labels, now: False)
        per_tick.append((time.process_time() - cpu) * 1000)

    # baseline: query the store for every rule's window on every tick
    base: list[float] = []
    for t in range(3):
        now = NOW_MS + t * 1000
        wall = time.perf_counter()
        probe = Evaluator(rules)
        probe.backfill(source, "default", now)
        probe.evaluate(now)
        base.append((time.perf_counter() - wall) * 1000)

    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "duckdb": duckdb.__version__, "platform": platform.platform(),
                    "note": "2 cores shared with other helpers' work"},
        "stored_items": stored, "load_s": round(load_s, 1), "rules": [r.name for r in rules],
        "backfill": {k: round(v, 1) for k, v in backfill.items()},
        "tick_cpu_ms": {"median": round(statistics.median(per_tick), 3),
                        "p99": round(sorted(per_tick)[int(len(per_tick) * 0.99) - 1], 3),
                        "ticks": len(per_tick)},
        "observe_cpu_us_per_item": round(observe_us, 3),
        "baseline_client_metrics_observe_us_per_item": round(metrics_us, 3),
        "baseline_query_store_per_tick_ms": {"median": round(statistics.median(base), 1), "runs": len(base)},
    }
    result["speedup_incremental_vs_query"] = round(
        result["baseline_query_store_per_tick_ms"]["median"] / max(result["tick_cpu_ms"]["median"], 1e-3), 1)
    print(json.dumps(result, indent=2))
    if os.environ.get("WASMWATCH_BENCH_WRITE") or not OUT.exists():
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
