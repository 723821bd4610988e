"""The dashboard summary: the first-vs-cached split, the operation filter, the previous window."""

from __future__ import annotations

import duckdb
import numpy as np

from tests.query.conftest import HOUR, MINUTE, NOW, PROJECT, op, row, write
from wasmwatch.query.overview import overview


def test_split_is_computed_by_the_server(con: duckdb.DuckDBPyConnection) -> None:
    """first/cached percentiles equal numpy's over each half, beyond any row limit."""
    first = [900.0 + i for i in range(3000)]
    cached = [100.0 + i / 10 for i in range(500)]
    write(con, [row("bundle_load", NOW - 30 * MINUTE, ms=v, cached=False, compile_ms=10.0,
                    instantiate_ms=2.0) for v in first]
          + [row("bundle_load", NOW - 30 * MINUTE, ms=v, cached=True) for v in cached])
    for window_s in (3600, 86400):  # raw and rollup summaries both get the exact split
        bl = overview(con, project=PROJECT, window_s=window_s, now_ms=NOW)["bundle_load"]
        assert bl["first"]["count"] == 3000 and bl["cached"]["count"] == 500
        assert abs(bl["first"]["p95_ms"] - float(np.percentile(first, 95))) < 1e-6
        assert abs(bl["cached"]["p50_ms"] - float(np.percentile(cached, 50))) < 1e-6
        assert bl["compile_instantiate_p95_ms"] == 12.0


def test_operation_filter_narrows_the_events(con: duckdb.DuckDBPyConnection) -> None:
    """Under an operation filter the events count that operation's operations and errors only."""
    write(con, [op("render", 5.0, NOW - MINUTE), op("save", 5.0, NOW - MINUTE),
                row("feature", NOW - MINUTE, name="export"),
                row("memory", NOW - MINUTE, value=1e6),
                row("error", NOW - MINUTE, name="render", kind="E", message="m")])
    events = overview(con, project=PROJECT, window_s=3600, now_ms=NOW,
                      operation="render")["events"]
    assert events == {"error": 1, "operation": 1}


def test_compare_adds_the_previous_window(con: duckdb.DuckDBPyConnection) -> None:
    """compare=True adds the same sections over the window of the same length before."""
    write(con, [op("render", 10.0, NOW - 30 * MINUTE), op("render", 20.0, NOW - HOUR - MINUTE),
                op("render", 30.0, NOW - HOUR - 2 * MINUTE)])
    body = overview(con, project=PROJECT, window_s=3600, now_ms=NOW, compare=True)
    assert body["operations"]["render"]["count"] == 1
    previous = body["previous"]
    assert previous["to_ms"] == NOW - HOUR and previous["operations"]["render"]["count"] == 2
