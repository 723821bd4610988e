"""The dashboard summary: the first-vs-cached split, the operation filter, the previous window."""

from __future__ import annotations

import duckdb
import numpy as np

from tests.query.conftest import HOUR, MINUTE, NOW, PROJECT, op, row, write
from wasmwatch.query.overview import overview


def test_split_is_computed_by_the_server(con: duckdb.DuckDBPyConnection) -> None:
    """first/cached percentiles equal numpy's over each half, beyond any row limit, in an
    exact summary; within 1 % in a rollup one (counts, averages and bytes exact in both)."""
    first = [900.0 + i for i in range(3000)]
    cached = [100.0 + i / 10 for i in range(500)]
    write(con, [row("bundle_load", NOW - 30 * MINUTE, ms=v, cached=False, compile_ms=10.0,
                    instantiate_ms=2.0, transfer_bytes=1000) for v in first]
          + [row("bundle_load", NOW - 30 * MINUTE, ms=v, cached=True) for v in cached])
    for window_s, tolerance in ((3600, 1e-9), (86400, 0.01)):  # raw, rollup
        answer = overview(con, project=PROJECT, window_s=window_s, now_ms=NOW)
        bl = answer["bundle_load"]
        assert answer["relative_error"] <= tolerance
        assert bl["first"]["count"] == 3000 and bl["cached"]["count"] == 500
        assert bl["first"]["bytes_total"] == 3_000_000 and bl["cached"]["bytes_total"] == 0
        assert abs(bl["cached"]["avg_ms"] - float(np.mean(cached))) < 1e-6
        for got, want in ((bl["first"]["p95_ms"], np.percentile(first, 95)),
                          (bl["first"]["p99_ms"], np.percentile(first, 99)),
                          (bl["cached"]["p50_ms"], np.percentile(cached, 50)),
                          (bl["compile_instantiate_p95_ms"], 12.0)):
            assert abs(got - float(want)) <= tolerance * float(want), (window_s, got, want)


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
