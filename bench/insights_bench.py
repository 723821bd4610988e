"""Benchmark: what the dashboard's insight queries cost next to the plain summary.

Builds the same synthetic 24 h data set as ``summary_bench.py`` (default 1 M items, so a run
stays short on a shared machine), then times (median of several runs, each on a fresh cursor):

* the plain 24 h summary (rollup) and 1 h summary (raw): the baselines,
* the dashboard summary (``overview``: the summary, the exact first-vs-cached split from raw
  loads, and with ``compare`` the previous window as well),
* the release view, the insights (bounce, cost, adoption) and the error breakdown over 24 h.

Prints machine info and each figure with its ratio to the baseline of the same window; writes
nothing unless ``--out FILE`` is given.

Run: ``.venv/bin/python bench/insights_bench.py [--items N] [--runs R] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
from summary_bench import NOW_MS, load, machine, timed

from wasmwatch.query import error_groups, rollup, summary
from wasmwatch.query.error_breakdown import breakdown
from wasmwatch.query.insights import insights
from wasmwatch.query.overview import overview
from wasmwatch.query.releases import releases
from wasmwatch.query.sources import Filters
from wasmwatch.store.schema import ITEMS_DDL

PROJECT = "default"


def _errors_with_breakdown(con: Any) -> None:
    answer = error_groups(con, project=PROJECT, window_s=86400, now_ms=NOW_MS, limit=50)
    breakdown(con, Filters(PROJECT), answer["from_ms"], answer["to_ms"], answer["groups"])


def queries() -> dict[str, Any]:
    day = dict(project=PROJECT, window_s=86400, now_ms=NOW_MS)
    hour = dict(project=PROJECT, window_s=3600, now_ms=NOW_MS)
    return {
        "summary_24h": lambda c: summary(c, **day),
        "overview_24h": lambda c: overview(c, **day),
        "overview_24h_compare": lambda c: overview(c, **day, compare=True),
        "summary_1h": lambda c: summary(c, **hour),
        "overview_1h_compare": lambda c: overview(c, **hour, compare=True),
        "releases_24h": lambda c: releases(c, **day),
        "insights_24h": lambda c: insights(c, **day),
        "errors_24h": lambda c: error_groups(c, **day, limit=50),
        "errors_24h_breakdown": _errors_with_breakdown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    info = machine()
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "bench.duckdb"))
        for ddl in [ITEMS_DDL, *rollup.ROLLUP_DDL]:
            con.execute(ddl)
        load(con, args.items, 500_000)
        figures = {name: timed(con, args.runs, call)["median_ms"] for name, call in queries().items()}
        con.close()
    base = {"24h": figures["summary_24h"], "1h": figures["summary_1h"]}
    result = {"machine": info, "items": args.items, "median_ms": figures,
              "ratio_to_summary_same_window": {
                  k: round(v / base["1h" if "1h" in k else "24h"], 2) for k, v in figures.items()
                  if not k.startswith("errors")},
              "errors_breakdown_ratio": round(figures["errors_24h_breakdown"] / figures["errors_24h"], 2)}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
