"""Where a point-5 query spends its time: every SQL statement it runs, timed in-process.

Opens a data set of ``query_bench.py`` (``bench/out/query/<order>-<items>``) read-only with the
server's DuckDB settings (``--memory-mb``, default the server's 160 MB; 2 threads), runs each
query of the benchmark the way the HTTP handler does (``overview``, ``error_groups`` +
``breakdown``, ``series``), and prints per query the wall time of each statement (median of
``--runs`` after one warm-up) and its first characters. With ``--explain`` it also prints
DuckDB's ``EXPLAIN ANALYZE`` of the slowest statement of each query.

Run: ``.venv/bin/python bench/query_profile.py [--order ordered|shuffled] [--only NAME]``
(under ``flock /tmp/wasmwatch-bench.lock`` when measuring).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from query_bench import CACHE, DAY_MS, NOW_MS, WINDOWS

from wasmwatch.query.error_breakdown import breakdown
from wasmwatch.query.errors import error_groups
from wasmwatch.query.overview import overview
from wasmwatch.query.series import series
from wasmwatch.query.sources import Filters


class Timed:
    """A connection that records the wall time of each ``execute`` (and its fetch)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.log: list[tuple[str, float]] = []
        self.params: list[Any] = []
        self._pending: tuple[str, float] | None = None

    def execute(self, sql: str, params: Any = None) -> Timed:
        started = time.perf_counter()
        self.con.execute(sql, params or [])
        self._pending = (sql, started)
        self.params.append(params or [])
        return self

    def _done(self, rows: Any) -> Any:
        if self._pending is not None:
            sql, started = self._pending
            self.log.append((sql, (time.perf_counter() - started) * 1000))
            self._pending = None
        return rows

    def fetchall(self) -> list[Any]:
        return list(self._done(self.con.fetchall()))

    def fetchone(self) -> Any:
        return self._done(self.con.fetchone())


def _errors(con: Any) -> Any:
    answer = error_groups(con, project="default", window_s=86_400, now_ms=NOW_MS)
    breakdown(con, Filters("default"), answer["from_ms"], answer["to_ms"], answer["groups"])
    return answer


def queries() -> dict[str, Callable[[Any], Any]]:
    out: dict[str, Callable[[Any], Any]] = {
        f"summary_{w}": (lambda con, s=s: overview(con, project="default", window_s=s,
                                                    now_ms=NOW_MS))
        for w, s in WINDOWS.items()}
    out["summary_24h_exact"] = lambda con: overview(con, project="default", window_s=86_400,
                                                   now_ms=NOW_MS, exact=True)
    out["errors_24h"] = _errors
    out["series_24h"] = lambda con: series(con, project="default", metric="operation",
                                           window_s=DAY_MS // 1000, step_s=900, now_ms=NOW_MS)
    return out


def profile(con: duckdb.DuckDBPyConnection, name: str, call: Callable[[Any], Any], runs: int,
            explain: bool) -> None:
    timed = Timed(con)
    call(timed)  # warm-up
    totals, per_statement = [], []
    for _ in range(runs):
        timed.log, timed.params = [], []
        started = time.perf_counter()
        call(timed)
        totals.append((time.perf_counter() - started) * 1000)
        per_statement.append([ms for _, ms in timed.log])
    sqls = [sql for sql, _ in timed.log]
    medians = [statistics.median(run[i] for run in per_statement) for i in range(len(sqls))]
    print(f"{name}: {statistics.median(totals):.1f} ms total, {len(sqls)} statements")
    for sql, ms in zip(sqls, medians, strict=True):
        print(f"  {ms:7.1f} ms  {' '.join(sql.split())[:110]}")
    if explain and sqls:
        at = medians.index(max(medians))
        plan = con.execute("EXPLAIN ANALYZE " + sqls[at], timed.params[at]).fetchall()
        print(plan[0][1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", choices=("ordered", "shuffled"), default="ordered")
    parser.add_argument("--items", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory-mb", type=int, default=160)
    parser.add_argument("--only", default=None, help="one query name (e.g. summary_24h)")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--db", type=Path, default=None, help="another DuckDB file")
    args = parser.parse_args()
    db = args.db or CACHE / f"{args.order}-{args.items}" / "wasmwatch.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    con.execute(f"SET memory_limit = '{args.memory_mb}MB'")
    con.execute("SET threads = 2")
    for name, call in queries().items():
        if args.only in (None, name):
            profile(con, name, call, args.runs, args.explain)
    con.close()


if __name__ == "__main__":
    sys.exit(main())
