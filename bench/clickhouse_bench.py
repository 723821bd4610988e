"""ClickHouse store benchmark (issue 11): the same items into DuckDB and into chdb, in one run.

Store level (no HTTP, so the stores are compared, not the server): ``--items`` items of the
realistic type mix spread over the 24 h before now as live traffic arrives (each commit holds
the minute before its time; see :func:`commits`), written through each store's ``write`` in
group commits of ``--commit`` items (1000-item chunks, as 1000-item SDK bodies give), then the
dashboard queries timed (median of ``--runs``). Backends:

* ``duckdb``: :class:`~wasmwatch.store.duckdb.DuckDBStore` with the rollup hooks, as served;
* ``chdb``: :class:`~wasmwatch.store.clickhouse.ClickHouseStore` on the in-process engine, with
  the materialized views that fill the rollups;
* ``chdb-nomv``: the same without the materialized views (what the rollups cost at insert).

Also measured on chdb: the duplicate lookup's share of each commit, and what ``FINAL`` (exact
ReplacingMergeTree dedup at read time) would add to a 24 h scan.

Run: ``.venv/bin/python bench/clickhouse_bench.py --items 1000000`` (``--write`` stores the JSON
in ``bench/out/clickhouse.json``; nothing tracked is rewritten).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from wasmwatch.ingest import schema as s  # noqa: E402
from wasmwatch.ingest.columnar import Chunk, Prepared, prepare  # noqa: E402
from wasmwatch.query import error_groups, rollup, series, summary  # noqa: E402
from wasmwatch.store.clickhouse import ClickHouseStore  # noqa: E402
from wasmwatch.store.duckdb import DuckDBStore  # noqa: E402
from wasmwatch.store.url import StoreURL  # noqa: E402

OUT = HERE / "out" / "clickhouse.json"
HOUR = 3_600_000
OPS = ["render", "save", "load", "parse", "sync"]


def _items(rng: np.random.Generator, start: int, n: int, at: int) -> list[s.Item]:
    ts = at - rng.integers(0, 60_000, n)  # live traffic: the last minute before the commit
    ms = np.round(rng.lognormal(3, 1.1, n), 2)
    kinds = rng.choice(10, n)
    out: list[s.Item] = []
    for i in range(n):
        iid, t, k, v = f"b{start + i}", float(ts[i]), int(kinds[i]), float(ms[i])
        if k < 6:
            out.append(s.Operation(id=iid, ts=t, name=OPS[i % 5], ms=v, ok=i % 17 != 0))
        elif k == 6:
            out.append(s.Error(id=iid, ts=t, kind="unreachable", category="runtime",
                               message=f"trap {i % 7}", operation=OPS[i % 5],
                               stack=f"at f (app.wasm:wasm-function[{i % 5}]:0x8d)"))
        elif k == 7:
            out.append(s.Memory(id=iid, ts=t, wasm_bytes=(i % 64 + 1) << 20))
        elif k == 8:
            out.append(s.BundleLoad(id=iid, ts=t, total_ms=v * 10, cached=i % 2 == 0,
                                    transfer_bytes=4000))
        else:
            out.append(s.Feature(id=iid, ts=t, name=OPS[i % 5]))
    prepare(out)
    return out


def commits(total: int, size: int, now: int) -> Iterator[list[Chunk]]:
    """Group commits as live ingest makes them: commit k holds items of the minute before its
    time, and the commits' times run evenly over the 24 h before ``now``."""
    rng = np.random.default_rng(11)
    step = 24 * HOUR // max(1, -(-total // size))
    for start in range(0, total, size):
        at = now - 24 * HOUR + (start // size + 1) * step
        chunks = []
        for c in range(start, min(total, start + size), 1000):
            ctx = ("p1", now, 0, f"s{c // 3000}", ("1.0", "1.1")[c // 1000 % 2], "/app", "4g",
                   "desktop", ("Chrome", "Firefox")[c // 2000 % 2], 120, "Linux", True, "0.1", None)
            chunks.append(Chunk(ctx, _items(rng, c, min(1000, total - c), at), 1000))
        yield chunks


def _open(kind: str, root: Path) -> Any:
    if kind == "duckdb":
        return DuckDBStore(root / "duck", ddl=rollup.ROLLUP_DDL, after_insert=[rollup.apply],
                           recover=[rollup.rebuild], aggregate_columns=rollup.SOURCE_COLUMNS,
                           memory_limit_mb=1024)
    store = ClickHouseStore(StoreURL("chdb", root / "chdb", database=kind.replace("-", "_")),
                            root / kind, retention_days=0)
    if kind == "chdb-nomv":
        for tier in rollup.TIERS:
            for table in (tier.table, tier.hist):
                store._client.command(f"DROP VIEW IF EXISTS {table}_mv")
    return store


def ingest(store: Any, total: int, size: int, now: int) -> dict[str, float]:
    """Items/s through write() (item objects are made beforehand, outside the clock)."""
    lookup = [0.0]
    if isinstance(store, ClickHouseStore):
        original = store._stored

        def timed(table: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(table)
            finally:
                lookup[0] += time.perf_counter() - t0
        store._stored = timed  # type: ignore[method-assign]
    spent = 0.0
    for group in commits(total, size, now):
        t0 = time.perf_counter()
        store.write(Prepared(group))
        spent += time.perf_counter() - t0
    t0 = time.perf_counter()
    store.flush(force=True)
    spent += time.perf_counter() - t0
    return {"items_per_s": total / spent, "seconds": spent, "lookup_share": lookup[0] / spent}


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def queries(store: Any, now: int, runs: int) -> dict[str, float]:
    con = store.reader()
    cases: dict[str, Callable[[], object]] = {
        "summary_1h_raw": lambda: summary(con, project="p1", window_s=3600, now_ms=now),
        "summary_24h_rollup": lambda: summary(con, project="p1", window_s=86400, now_ms=now),
        "summary_24h_exact": lambda: summary(con, project="p1", window_s=86400, now_ms=now,
                                             exact=True),
        "series_24h_5m": lambda: series(con, project="p1", metric="operation", window_s=86400,
                                        step_s=300, now_ms=now),
        "errors_24h": lambda: error_groups(con, project="p1", window_s=86400, now_ms=now),
    }
    return {name: _median(fn, runs) for name, fn in cases.items()}


def final_cost(store: ClickHouseStore, runs: int) -> dict[str, float]:
    client = store.reader().client
    plain = "SELECT type, count(), quantileExactInclusive(0.95)(ms) FROM items {} GROUP BY type"
    return {"scan_ms": _median(lambda: client.query(plain.format("")), runs),
            "scan_final_ms": _median(lambda: client.query(plain.format("FINAL")), runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--commit", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="duckdb,chdb,chdb-nomv")
    parser.add_argument("--write", action="store_true", help=f"store the JSON in {OUT}")
    args = parser.parse_args()
    now = int(time.time() * 1000) // HOUR * HOUR
    root = Path(tempfile.mkdtemp(prefix="ww-chbench-"))
    results: dict[str, Any] = {"items": args.items, "commit": args.commit}
    try:
        for kind in args.backends.split(","):
            store = _open(kind, root)
            try:
                figures = ingest(store, args.items, args.commit, now)
                if kind != "chdb-nomv":
                    figures.update(queries(store, now, args.runs))
                if kind == "chdb":
                    figures.update(final_cost(store, args.runs))
                figures["stored"] = store.stored_count()
            finally:
                store.close()
            results[kind] = figures
            print(kind, json.dumps({k: round(v, 3) for k, v in figures.items()}), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if "duckdb" in results and "chdb" in results:
        d, c = results["duckdb"], results["chdb"]
        ratios = {k: c[k] / d[k] for k in d if k in c and k not in ("stored", "lookup_share")}
        results["chdb_over_duckdb"] = ratios
        print("chdb / duckdb", json.dumps({k: round(v, 2) for k, v in ratios.items()}))
    if args.write:
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
