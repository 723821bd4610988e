"""Benchmark: the 24 h summary from the rollup versus the same summary over raw rows.

Generates ``--items`` items (default 10 M) spread over 24 h into a DuckDB file, in chunks that
go through ``layout.load_wide`` (the stored layout, one batch per context) and ``rollup.apply(con, 'batch')`` as the
writer does, compacts, then times (median of several runs, each on a fresh cursor):

* the 24 h summary from the rollup (target: <= 100 ms),
* the same 24 h summary with ``exact=True`` (raw scan baseline),
* the 1 h summary (exact, raw rows),
* 24 h series (step 1 h and 5 min) and 24 h error groups,

and checks the rollup percentiles against the exact ones. Prints machine info and figures and
writes them to ``bench/out/summary.json``.

Run: ``.venv/bin/python bench/summary_bench.py [--items N] [--runs R] [--db PATH]``
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from wasmwatch.query import error_groups, rollup, series, summary
from wasmwatch.store import layout
from wasmwatch.store.schema import COLUMNS

DAY_MS = 86_400_000
# A fixed "now" at hh:01:17, so the 24 h window starts at hh:01:17 and the rollup reads the
# worst case: 59 minute buckets at the leading edge plus 24 hour buckets.
NOW_MS = 1_764_000_000_000 + 61 * 60_000 + 17_000
START_MS = NOW_MS - DAY_MS
OUT = Path(__file__).resolve().parent / "out" / "summary.json"

OPS = [f"op_{k:02d}" for k in range(16)]
RELEASES = ["1.4.0", "1.4.1", "1.4.2", "1.5.0"]
BROWSERS = ["Chrome", "Firefox", "Safari", "Edge", "Samsung Internet", "Opera"]
PAGES = ["/", "/editor", "/settings", "/share", "/help"]
FEATURES = [f"feature_{k}" for k in range(12)]
CATEGORIES = ["critical", "runtime", "application"]
KINDS = ["RuntimeError", "TypeError", "unreachable", "out_of_bounds"]


def _list(values: list[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _pick(values: list[str], uniform: str) -> str:
    return f"{_list(values)}[1 + CAST(floor({uniform} * {len(values)}) AS INTEGER)]"


# Column expressions over the random draws of one item; unnamed columns are NULL.
EXPRS: dict[str, str] = {
    "id": "'i' || i",
    "project": "'default'",
    "type": "type",
    "ts": "ts",
    "client_ts": "ts",
    "received": "ts - ts % 1000 + 40",  # with sid: ~20 consecutive items share one batch
    "session": "'s' || sid",
    "release": f"{_list(RELEASES)}[1 + sid % 4]",
    "page": f"{_list(PAGES)}[1 + sid % 5]",
    "connection": "['4g', '3g', 'wifi', 'unknown'][1 + sid % 4]",
    "device": "['desktop', 'mobile', 'tablet'][1 + sid % 3]",
    "browser": f"{_list(BROWSERS)}[1 + (sid // 4) % 6]",
    "browser_major": "120 + sid % 5",
    "os": "['Windows', 'macOS', 'Linux', 'Android', 'iOS'][1 + sid % 5]",
    "online": "sid % 20 <> 0",
    "sdk": "'0.1.0'",
    "name": f"""CASE type
        WHEN 'operation' THEN op WHEN 'error' THEN op
        WHEN 'feature' THEN {_pick(FEATURES, 'u4')}
        WHEN 'engagement' THEN {_list(PAGES)}[1 + sid % 5]
        WHEN 'bundle_load' THEN '/app.wasm'
        WHEN 'measurement' THEN 'custom_' || CAST(floor(u4 * 5) AS INTEGER) END""",
    "ms": """CASE type
        WHEN 'operation' THEN round(exp(ln(2 + op_k * 6) + 0.7 * z), 1)
        WHEN 'bundle_load' THEN least(exp(ln(CASE WHEN u5 < 0.6 THEN 250 ELSE 1400 END)
                                          + 0.6 * z), 60000)
        WHEN 'runtime_init' THEN exp(ln(180) + 0.5 * z)
        WHEN 'engagement' THEN least(round(exp(ln(20000) + z)), 60000)
        WHEN 'offline_sync' THEN exp(ln(300) + 0.5 * z) END""",
    "ok": "CASE WHEN type IN ('operation', 'offline_sync') THEN u6 > 0.03 END",
    "offline": "CASE WHEN type IN ('operation', 'engagement') THEN u5 < 0.08 END",
    "cached": "CASE WHEN type = 'bundle_load' THEN u5 < 0.6 END",
    "streaming": "CASE WHEN type = 'bundle_load' THEN true END",
    "transfer_bytes": "CASE WHEN type = 'bundle_load' THEN CASE WHEN u5 < 0.6 THEN 0 "
    "ELSE 2400000 + CAST(u4 * 1000 AS BIGINT) END END",
    "decoded_bytes": "CASE WHEN type = 'bundle_load' THEN 5200000 END",
    "category": f"CASE WHEN type = 'error' THEN {_pick(CATEGORIES, 'u6')} END",
    "kind": f"CASE WHEN type = 'error' THEN {_list(KINDS)}[1 + fp % 4] END",
    "message": "CASE WHEN type = 'error' THEN 'failure number ' || fp END",
    "stack": "CASE WHEN type = 'error' THEN 'at wasm-function[' || fp || '] (app.wasm:1:' "
    "|| (fp * 37) || ')' END",
    "frame": "CASE WHEN type = 'error' THEN 'wasm-function[' || fp || ']' END",
    "fingerprint": "CASE WHEN type = 'error' THEN 'fp' || fp END",
    "value": "CASE type WHEN 'memory' THEN floor(4194304 + u4 * 8388608) "
    "WHEN 'error' THEN floor(4194304 + u4 * 8388608) WHEN 'measurement' THEN u4 * 100 END",
    "synced": "CASE WHEN type = 'offline_sync' THEN CAST(floor(u4 * 20) AS BIGINT) END",
    "conflicts": "CASE WHEN type = 'offline_sync' THEN CAST(u6 < 0.1 AS BIGINT) END",
    "pending": "CASE WHEN type = 'offline_sync' THEN CAST(floor(u6 * 150) AS BIGINT) END",
}

TYPE_MIX = [  # cumulative share of each item type
    (0.55, "operation"), (0.65, "engagement"), (0.75, "memory"), (0.83, "feature"),
    (0.86, "error"), (0.90, "bundle_load"), (0.94, "runtime_init"), (0.96, "offline_sync"),
    (1.01, "measurement"),
]


def batch_sql(lo: int, hi: int, total: int) -> str:
    """SELECT generating items ``lo..hi-1`` of ``total`` spread evenly over the day."""
    type_case = " ".join(f"WHEN u0 < {share} THEN '{name}'" for share, name in TYPE_MIX)
    columns = ",\n  ".join(
        f"CAST({EXPRS[name]} AS {sql}) AS {name}" if name in EXPRS
        else f"CAST(NULL AS {sql}) AS {name}"
        for name, sql in COLUMNS.items()
    )
    return f"""
WITH r AS (
  SELECT i, {START_MS} + (i * {DAY_MS}) // {total} AS ts, random() AS u0, random() AS u1,
    random() AS u2, random() AS u3, random() AS u4, random() AS u5, random() AS u6
  FROM range({lo}, {hi}) t(i)),
d AS (
  SELECT *, CASE {type_case} END AS type,
    sqrt(-2 * ln(greatest(u1, 1e-12))) * cos(2 * pi() * u2) AS z,
    (i // 20) % 60000 AS sid,  -- an SDK batch: 20 consecutive items of one session
    CAST(floor(u4 * u4 * 30) AS BIGINT) AS fp,
    CAST(floor(u6 * {len(OPS)}) AS BIGINT) AS op_k
  FROM r),
e AS (SELECT *, {_list(OPS)}[1 + op_k] AS op FROM d)
SELECT
  {columns}
FROM e"""


def load(con: duckdb.DuckDBPyConnection, total: int, chunk: int) -> dict[str, float]:
    """Generate and write ``total`` items in chunks through ``rollup.apply``; seconds taken."""
    started, apply_s = time.perf_counter(), 0.0
    for lo in range(0, total, chunk):
        con.execute("BEGIN TRANSACTION")
        hi = min(total, lo + chunk)
        con.execute(f"CREATE OR REPLACE TEMP TABLE batch AS {batch_sql(lo, hi, total)}")
        layout.load_wide(con, "batch")  # into the stored layout, one batch per context
        applying = time.perf_counter()
        rollup.apply(con, "batch")
        apply_s += time.perf_counter() - applying
        con.execute("COMMIT")
        print(f"  wrote {hi:>10,} items", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    compacting = time.perf_counter()
    rollup.compact(con, NOW_MS + 10 * 60_000)
    compact_s = time.perf_counter() - compacting
    con.execute("DROP TABLE IF EXISTS batch")
    con.execute("CHECKPOINT")
    return {"load_s": round(time.perf_counter() - started, 1), "apply_s": round(apply_s, 2),
            "apply_us_per_item": round(apply_s / total * 1e6, 2),
            "compact_s": round(compact_s, 2)}


def timed(con: duckdb.DuckDBPyConnection, runs: int, call: Callable[[Any], Any]) -> dict[str, Any]:
    """Median and all run times in ms of ``call(cursor)``, after one warm-up run."""
    call(con.cursor())
    times = []
    for _ in range(runs):
        cursor = con.cursor()
        started = time.perf_counter()
        call(cursor)
        times.append((time.perf_counter() - started) * 1000)
        cursor.close()
    return {"median_ms": round(statistics.median(times), 2),
            "runs_ms": [round(t, 2) for t in times]}


def _rel(approx: float | None, exact: float | None) -> float:
    if approx is None or exact is None:
        return 0.0 if approx == exact else float("inf")
    return abs(approx - exact) / exact if exact else abs(approx)


def accuracy(approx: dict[str, Any], exact: dict[str, Any]) -> dict[str, Any]:
    """Largest relative percentile error of the rollup answer, and whether counts agree."""
    pairs = [(approx["bundle_load"], exact["bundle_load"]),
             (approx["runtime_init"], exact["runtime_init"])]
    pairs += [(approx["operations"][k], exact["operations"][k]) for k in exact["operations"]]
    pairs += [(approx["bundle_load"]["by_release"][k], exact["bundle_load"]["by_release"][k])
              for k in exact["bundle_load"]["by_release"]]
    worst = max(_rel(a[p], e[p]) for a, e in pairs for p in ("p50_ms", "p95_ms", "p99_ms"))
    same = all(approx[s] == exact[s] for s in ("events", "features", "offline"))
    same = same and approx["errors"] == exact["errors"] and approx["memory"] == exact["memory"]
    return {"max_percentile_rel_error": worst, "percentile_groups": len(pairs),
            "counts_equal": same}


def steady_state(con: duckdb.DuckDBPyConnection, total: int, runs: int) -> dict[str, Any]:
    """Writer-sized work: apply of a 1000-item batch, then one compaction of what it dirtied."""
    apply_ms, compact_ms = [], []
    for k in range(runs):
        lo = total - 1000 * (k + 1)  # re-send the last seconds of the day under new ids
        sql = batch_sql(lo, lo + 1000, total).replace("'i' || i", f"'again{k}_' || i")
        con.execute(f"CREATE OR REPLACE TEMP TABLE batch AS {sql}")
        con.execute("BEGIN TRANSACTION")
        layout.load_wide(con, "batch")
        started = time.perf_counter()
        rollup.apply(con, "batch")
        apply_ms.append((time.perf_counter() - started) * 1000)
        con.execute("COMMIT")
        started = time.perf_counter()
        rollup.compact(con, NOW_MS + 10 * 60_000)
        compact_ms.append((time.perf_counter() - started) * 1000)
    return {"apply_1000_items_ms": round(statistics.median(apply_ms), 2),
            "compact_after_batch_ms": round(statistics.median(compact_ms), 2)}


def machine() -> dict[str, Any]:
    """nproc, CPU model, memory, versions."""
    model = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {"nproc": os.cpu_count(), "cpu_model": model, "memory_gib": round(pages / 2**30, 1),
            "python": platform.python_version(), "duckdb": duckdb.__version__,
            "platform": platform.platform(),
            "loadavg_1m_at_start": round(os.getloadavg()[0], 2)}


def table_rows(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row counts of items and every rollup table."""
    names = ["items", *(t for tier in rollup.TIERS for t in (tier.table, tier.hist))]
    return {n: int(con.execute(f"SELECT count(*) FROM {n}").fetchone()[0]) for n in names}


def run_queries(con: duckdb.DuckDBPyConnection, runs: int) -> dict[str, Any]:
    """Time every query of interest; the raw baseline gets fewer runs (it is slow)."""
    day = {"project": "default", "window_s": 86_400, "now_ms": NOW_MS}
    figures = {
        "summary_24h_rollup": timed(con, runs, lambda c: summary(c, **day)),
        "summary_24h_raw_exact": timed(con, max(3, runs // 2),
                                       lambda c: summary(c, **day, exact=True)),
        "summary_1h_exact": timed(con, runs, lambda c: summary(
            c, project="default", window_s=3600, now_ms=NOW_MS)),
        "summary_24h_rollup_filtered": timed(con, runs, lambda c: summary(
            c, **day, release="1.4.2", browser="Firefox")),
        "series_24h_step_1h_operation": timed(con, runs, lambda c: series(
            c, **day, metric="operation", step_s=3600)),
        "series_24h_step_5m_operation": timed(con, runs, lambda c: series(
            c, **day, metric="operation", step_s=300)),
        "error_groups_24h": timed(con, runs, lambda c: error_groups(c, **day)),
    }
    figures["speedup_rollup_vs_raw"] = round(
        figures["summary_24h_raw_exact"]["median_ms"]
        / figures["summary_24h_rollup"]["median_ms"], 1)
    figures["accuracy"] = accuracy(summary(con.cursor(), **day),
                                   summary(con.cursor(), **day, exact=True))
    return figures


def main() -> None:
    """Build the data set, time the queries, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--db", type=Path, default=None, help="DuckDB file (default: a temp one)")
    parser.add_argument("--reuse", action="store_true",
                        help="time an existing --db file instead of generating it again")
    args = parser.parse_args()
    info = machine()
    print(f"machine: {info['nproc']} CPUs, {info['cpu_model']}, {info['memory_gib']} GiB, "
          f"duckdb {info['duckdb']}, load average {info['loadavg_1m_at_start']}")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.duckdb"
        reuse = args.reuse and path.exists()
        con = duckdb.connect(str(path))
        for ddl in [*layout.tables(), layout.view(), *rollup.ROLLUP_DDL]:
            con.execute(ddl)
        loading = {"reused": True} if reuse else load(con, args.items, args.chunk)
        rows = table_rows(con)
        print(f"loaded {args.items:,} items: {loading}; rows: {rows}")
        figures = run_queries(con, args.runs)
        figures["steady_state"] = steady_state(con, rows["items"], args.runs)
        con.close()
    info["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    result = {"machine": info, "items": rows["items"], "window": "24h", "now_ms": NOW_MS,
              **loading, "rows": rows, "target_ms": 100, **figures,
              "meets_target": figures["summary_24h_rollup"]["median_ms"] <= 100}
    for key, value in figures.items():
        print(f"{key:32} {value}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
