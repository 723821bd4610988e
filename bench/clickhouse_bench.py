"""ClickHouse store benchmark (issue 11): DuckDB and chdb at 1 M and 10 M items, in one run.

Store level (no HTTP, so the stores are compared, not the server). Items of the realistic type
mix arrive as live traffic does: group commits of ``--commit`` items (1000-item chunks, as
1000-item SDK bodies give), each holding the minute before its time, the commits' times spread
over the 24 h before ``now``.

Two steps, so that the long part runs outside the shared benchmark lock:

* ``--prepare`` (no lock needed) fills one store of each engine per size in ``--sizes`` with
  all but the last ``--tail`` items of that size, cached in ``bench/out/chbench/`` (git-ignored;
  made once). DuckDB is filled through its ``write`` as served; chdb by ``insert_arrow`` of
  50,000-row blocks (its materialized views fill the rollups as on every insert) without the
  per-commit duplicate lookup, which would take most of an hour at 10 M on this machine.
* the measurement (default; run it under ``flock /tmp/wasmwatch-bench.lock``) copies the cached
  stores to a temporary directory, makes one untimed warm-up commit of other ids (and waits
  until chdb merges nothing), writes the last ``--tail`` items through each store's ``write``
  (items/s: commits into a store that already holds the size), then times the dashboard
  queries (median of ``--runs``). Also on chdb: the duplicate lookup's and the insert's shares
  of the commit time, what ``FINAL`` adds to a scan of every item, and after the queries the
  tail again (other ids) in commits taking turns with ``async_insert`` 0 and 1, then without
  the materialized views.

Backends: ``duckdb`` = :class:`~wasmwatch.store.duckdb.DuckDBStore` with the rollup hooks as
served (memory limit 1 GiB); ``chdb`` = :class:`~wasmwatch.store.clickhouse.ClickHouseStore` on
the engine in process, with the views that fill the rollups. ``--write`` stores the JSON in
``bench/out/clickhouse.json``; nothing tracked is rewritten.
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
import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from wasmwatch.ingest import schema as s  # noqa: E402
from wasmwatch.ingest.columnar import Chunk, Prepared, prepare  # noqa: E402
from wasmwatch.query import error_groups, rollup, series, summary  # noqa: E402
from wasmwatch.store.clickhouse import ClickHouseStore  # noqa: E402
from wasmwatch.store.duckdb import DuckDBStore  # noqa: E402
from wasmwatch.store.layout import batch_context  # noqa: E402
from wasmwatch.store.url import StoreURL  # noqa: E402

OUT = HERE / "out" / "clickhouse.json"
CACHE = HERE / "out" / "chbench"
HOUR = 3_600_000
OPS = ["render", "save", "load", "parse", "sync"]
FILL_BLOCK = 50_000


def _items(rng: np.random.Generator, start: int, n: int, at: int, prefix: str) -> list[s.Item]:
    ts = at - rng.integers(0, 60_000, n)  # live traffic: the last minute before the commit
    ms = np.round(rng.lognormal(3, 1.1, n), 2)
    kinds = rng.choice(10, n)
    out: list[s.Item] = []
    for i in range(n):
        iid, t, k, v = f"{prefix}{start + i}", float(ts[i]), int(kinds[i]), float(ms[i])
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


def commits(total: int, size: int, now: int, first: int = 0,
            prefix: str = "b") -> Iterator[list[Chunk]]:
    """Group commits as live ingest makes them, from item ``first`` on: commit k holds items
    of the minute before its time, and the commits' times run evenly over the 24 h before
    ``now``. Each commit's items depend only on its number, so a tail can be made alone."""
    step = 24 * HOUR // max(1, -(-total // size))
    for start in range(first, total, size):
        rng = np.random.default_rng((11, start))
        at = now - 24 * HOUR + (start // size + 1) * step
        chunks = []
        for c in range(start, min(total, start + size), 1000):
            ctx = batch_context("p1", now, session=f"s{c // 3000}",
                                release=("1.0", "1.1")[c // 1000 % 2], page="/app",
                                connection="4g", device="desktop",
                                browser=("Chrome", "Firefox")[c // 2000 % 2], browser_major=120,
                                os="Linux", online=True, sdk="0.1")
            chunks.append(Chunk(ctx, _items(rng, c, min(1000, total - c), at, prefix), 1000))
        yield chunks


def _duck(path: Path) -> DuckDBStore:
    return DuckDBStore(path, ddl=rollup.ROLLUP_DDL, after_insert=[rollup.apply],
                       recover=[rollup.rebuild], aggregate_columns=rollup.SOURCE_COLUMNS,
                       memory_limit_mb=1024)


def _chdb(root: Path, size: int) -> ClickHouseStore:
    return ClickHouseStore(StoreURL("chdb", root / "chdb", database=f"s{size}"),
                           root / f"chlocal{size}", retention_days=0)


def fill(size: int, commit: int, tail: int, now: int) -> None:
    """The cached stores of ``size`` holding all but its last ``tail`` items."""
    for old in (CACHE / f"duck{size}", CACHE / f"chlocal{size}"):
        shutil.rmtree(old, ignore_errors=True)
    ch = _chdb(CACHE, size)
    ch._client.command(f"DROP DATABASE s{size}")  # a part filled before
    ch.close()
    duck, ch = _duck(CACHE / f"duck{size}"), _chdb(CACHE, size)
    block: list[pa.Table] = []
    t0 = time.perf_counter()
    for group in commits(size - tail, commit, now):
        prepared = Prepared(group)
        duck.write(prepared)
        block.append(prepared.rows(0))
        if sum(t.num_rows for t in block) >= FILL_BLOCK:
            ch._client.insert_arrow("items", pa.concat_tables(block))
            block = []
    if block:
        ch._client.insert_arrow("items", pa.concat_tables(block))
    duck.flush(force=True)
    counts = duck.stored_count(), ch.stored_count()
    duck.close()
    ch.close()
    meta = {"size": size, "commit": commit, "tail": tail, "now": now, "stored": counts}
    (CACHE / f"{size}.json").write_text(json.dumps(meta))
    print(f"filled {size}: {counts} in {time.perf_counter() - t0:.0f} s", flush=True)


def settle(store: ClickHouseStore, limit_s: float = 120.0) -> None:
    """Wait (up to ``limit_s``) until the engine merges nothing: a store opened from the cache
    loads its tables and merges the fill's parts in the background at first."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if not store._client.query("SELECT count() FROM system.merges").result_rows[0][0]:
            return
        time.sleep(1)


def warm(store: Any, meta: dict[str, Any]) -> None:
    """One commit of other ids (the tail's first), untimed: a store's first write in a process
    pays for loading its engine and tables."""
    size, commit = meta["size"], meta["commit"]
    first = next(commits(size, commit, meta["now"], size - meta["tail"], "w"))
    store.write(Prepared(first))
    if isinstance(store, ClickHouseStore):
        settle(store)


def ingest(store: Any, meta: dict[str, Any], prefix: str = "b",
           between: Callable[[int], None] | None = None) -> dict[str, float]:
    """Items/s through write() of the size's last ``tail`` items (made outside the clock);
    ``between(k)`` runs before commit k, off the clock."""
    size, commit, now = meta["size"], meta["commit"], meta["now"]
    groups = list(commits(size, commit, now, size - meta["tail"], prefix))
    lookup, insert = [0.0], [0.0]
    if isinstance(store, ClickHouseStore):
        store._stored = _timed(store._stored, lookup)  # type: ignore[method-assign]
        store._client.insert_arrow = _timed(store._client.insert_arrow, insert)
    spent = 0.0
    for k, group in enumerate(groups):
        if between is not None:
            between(k)
        t0 = time.perf_counter()
        store.write(Prepared(group))
        spent += time.perf_counter() - t0
    t0 = time.perf_counter()
    store.flush(force=True)
    spent += time.perf_counter() - t0
    if isinstance(store, ClickHouseStore):
        del store._stored, store._client.insert_arrow  # the class's own again
    return {"items_per_s": meta["tail"] / spent, "lookup_share": lookup[0] / spent,
            "insert_share": insert[0] / spent}


def _timed(fn: Callable[..., Any], total: list[float]) -> Callable[..., Any]:
    """``fn``, adding the seconds each call takes to ``total[0]``."""
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - t0
    return timed


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


def _async_split(store: ClickHouseStore, meta: dict[str, Any]) -> dict[str, float]:
    """The tail again (other ids), commits taking turns with ``async_insert`` 1 and 0, so both
    meet the same background work: items/s of each half."""
    spent = {"0": 0.0, "1": 0.0}
    write = store.write

    def timed(prepared: Prepared, *args: Any, **kwargs: Any) -> Any:
        mode = store._client.get_client_setting("async_insert") or "0"
        t0 = time.perf_counter()
        try:
            return write(prepared, *args, **kwargs)
        finally:
            spent[mode] += time.perf_counter() - t0
    store.write = timed  # type: ignore[method-assign]
    try:
        ingest(store, meta, "a", lambda k: store._client.set_client_setting("async_insert",
                                                                            str(k % 2)))
    finally:
        store.write = write  # type: ignore[method-assign]
        store._client.set_client_setting("async_insert", "1")  # chdb's default, as served
    half = meta["tail"] / 2
    return {"sync_half_items_per_s": half / spent["0"], "async_half_items_per_s": half / spent["1"]}


def _chdb_variants(root: Path, meta: dict[str, Any]) -> dict[str, float]:
    """The same tail (other ids) with and without async inserts, then without the views."""
    store = _chdb(root, meta["size"])
    try:
        out = _async_split(store, meta)
        for tier in rollup.TIERS:
            for table in (tier.table, tier.hist):
                store._client.command(f"DROP VIEW IF EXISTS {table}_mv")
        out["nomv_items_per_s"] = ingest(store, meta, "n")["items_per_s"]
    finally:
        store.close()
    return out


def measure(size: int, root: Path, runs: int) -> dict[str, Any]:
    meta = json.loads((CACHE / f"{size}.json").read_text())
    shutil.copytree(CACHE / f"duck{size}", root / f"duck{size}")
    results: dict[str, Any] = {"size": size, "tail": meta["tail"], "commit": meta["commit"]}
    for kind in ("duckdb", "chdb"):
        store = _duck(root / f"duck{size}") if kind == "duckdb" else _chdb(root, size)
        try:
            warm(store, meta)
            figures = ingest(store, meta)
            figures.update(queries(store, meta["now"], runs))
            if isinstance(store, ClickHouseStore):
                figures.update(final_cost(store, runs))
            figures["stored"] = store.stored_count()
        finally:
            store.close()
        results[kind] = figures
        print(size, kind, json.dumps({k: round(v, 3) for k, v in figures.items()}), flush=True)
    variants = _chdb_variants(root, meta)
    results["chdb"].update(variants)
    print(size, "chdb variants", json.dumps({k: round(v) for k, v in variants.items()}), flush=True)
    d, c = results["duckdb"], results["chdb"]
    results["chdb_over_duckdb"] = {k: c[k] / d[k] for k in d
                                   if k not in ("stored", "lookup_share", "insert_share")}
    print(size, "chdb / duckdb", json.dumps({k: round(v, 2) for k, v in
                                             results["chdb_over_duckdb"].items()}), flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--commit", type=int, default=10_000)
    parser.add_argument("--tail", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prepare", action="store_true", help="fill the cached stores only")
    parser.add_argument("--write", action="store_true", help=f"store the JSON in {OUT}")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    CACHE.mkdir(parents=True, exist_ok=True)
    if args.prepare:
        now = int(time.time() * 1000) // HOUR * HOUR - 17 * 60_000 - 23_000  # not on a bucket edge
        for size in sizes:
            meta_file = CACHE / f"{size}.json"
            meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
            if (meta.get("commit"), meta.get("tail")) != (args.commit, args.tail):
                fill(size, args.commit, args.tail, now)
        return 0
    root = Path(tempfile.mkdtemp(prefix="ww-chbench-"))
    try:
        shutil.copytree(CACHE / "chdb", root / "chdb", symlinks=True)  # relative links
        results = {str(size): measure(size, root, args.runs) for size in sizes}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.write:
        OUT.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
