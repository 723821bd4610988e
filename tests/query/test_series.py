"""Chart series: bucketing, metrics, raw versus rollup."""

from __future__ import annotations

import itertools
import json

import duckdb
import numpy as np
import pytest

from tests.query.conftest import HOUR, MINUTE, NOW, PROJECT, op, row, write
from wasmwatch.query import series
from wasmwatch.query.exceptions import UnknownMetric, WindowError

TOLERANCE = 0.01 * (1 + 1e-9)


def test_points_cover_the_window_on_step_boundaries(con: duckdb.DuckDBPyConnection) -> None:
    """Points start at multiples of the step and run, gaps included, to the bucket of now."""
    now = NOW + 7 * MINUTE + 3_000
    write(con, [op("render", 1.0, now - 20 * MINUTE)])
    got = series(con, project=PROJECT, metric="operation", window_s=3600, step_s=300, now_ms=now)
    times = [p["t"] for p in got["points"]]
    assert times[0] == NOW - HOUR + 5 * MINUTE and times[-1] == NOW + 5 * MINUTE
    assert all(b - a == 300_000 for a, b in itertools.pairwise(times))
    assert sum(p["count"] for p in got["points"]) == 1
    empty = got["points"][0]
    assert empty == {"t": times[0], "count": 0, "p50": None, "p95": None, "p99": None,
                     "avg": None}
    json.dumps(got, allow_nan=False)


def test_raw_series_percentiles_equal_numpy(con: duckdb.DuckDBPyConnection) -> None:
    """Short-window bucket percentiles equal numpy.percentile over the bucket's values."""
    rng = np.random.default_rng(2)
    values = rng.lognormal(2, 1, 600)
    times = NOW - 1 - rng.integers(0, HOUR, len(values))
    write(con, [op("render", float(v), int(t)) for v, t in zip(values, times, strict=True)])
    got = series(con, project=PROJECT, metric="operation", window_s=3600, step_s=600, now_ms=NOW)
    assert got["source"] == "raw" and got["approximate"] is False
    for point in got["points"]:
        inside = values[(times >= point["t"]) & (times < point["t"] + 600_000)]
        assert point["count"] == len(inside)
        if len(inside):
            assert point["p95"] == pytest.approx(float(np.percentile(inside, 95)), rel=1e-12)
            assert point["avg"] == pytest.approx(float(np.mean(inside)), rel=1e-12)


@pytest.mark.parametrize("step_s", [300, 3600, 7200])
def test_rollup_series_matches_raw(con: duckdb.DuckDBPyConnection, step_s: int) -> None:
    """Long-window series from the rollup have raw counts and percentiles within 1 %."""
    rng = np.random.default_rng(step_s)
    values = rng.lognormal(3, 1, 3000)
    times = NOW - rng.integers(0, 24 * HOUR, len(values))
    write(con, [op("render", float(v), int(t)) for v, t in zip(values, times, strict=True)],
          batch_size=400)
    args = {"project": PROJECT, "metric": "operation", "window_s": 86_400, "step_s": step_s,
            "now_ms": NOW}
    approx, exact = series(con, **args), series(con, **args, exact=True)
    assert (approx["source"], approx["approximate"], exact["source"]) == ("rollup", True, "raw")
    assert [p["count"] for p in approx["points"]] == [p["count"] for p in exact["points"]]
    for a, e in zip(approx["points"], exact["points"], strict=True):
        for key in ("p50", "p95", "p99"):
            if e[key] is not None:
                assert abs(a[key] - e[key]) <= TOLERANCE * e[key] + 1e-12
        if e["avg"] is not None:
            assert a["avg"] == pytest.approx(e["avg"], rel=1e-9)


def test_sub_minute_steps_read_raw(con: duckdb.DuckDBPyConnection) -> None:
    """A step that is not whole minutes reads raw rows even over a long window."""
    got = series(con, project=PROJECT, metric="events", window_s=7200, step_s=30, now_ms=NOW)
    assert got["source"] == "raw" and len(got["points"]) == 241


@pytest.mark.parametrize("window_s", [3600, 6 * 3600])
def test_errors_series_counts_and_rates(con: duckdb.DuckDBPyConnection, window_s: int) -> None:
    """The errors metric counts errors per bucket and their rate over operations (0 if none)."""
    write(con, [op("render", 1.0, NOW - 30 * MINUTE), op("render", 1.0, NOW - 30 * MINUTE),
                row("error", NOW - 30 * MINUTE, kind="E", category="runtime"),
                row("error", NOW - 10 * MINUTE, kind="E", category="runtime")])
    got = series(con, project=PROJECT, metric="errors", window_s=window_s, step_s=1200,
                 now_ms=NOW)
    by_t = {p["t"]: p for p in got["points"]}
    assert by_t[NOW - 40 * MINUTE] == {"t": NOW - 40 * MINUTE, "count": 1, "operations": 2,
                                       "rate": 0.5}
    assert by_t[NOW - 20 * MINUTE] == {"t": NOW - 20 * MINUTE, "count": 1, "operations": 0,
                                       "rate": 0.0}


@pytest.mark.parametrize("window_s", [3600, 6 * 3600])
def test_memory_series_max_and_last(con: duckdb.DuckDBPyConnection, window_s: int) -> None:
    """The memory metric gives each bucket's largest and latest WASM memory."""
    write(con, [row("memory", NOW - 30 * MINUTE + 1, value=7.0),
                row("memory", NOW - 30 * MINUTE + 9, value=3.0)])
    got = series(con, project=PROJECT, metric="memory", window_s=window_s, step_s=600,
                 now_ms=NOW)
    point = next(p for p in got["points"] if p["t"] == NOW - 30 * MINUTE)
    assert point == {"t": NOW - 30 * MINUTE, "count": 2, "max": 7, "last": 3}


@pytest.mark.parametrize("window_s", [3600, 6 * 3600])
def test_events_series_counts_by_type(con: duckdb.DuckDBPyConnection, window_s: int) -> None:
    """The events metric counts items per bucket by type."""
    write(con, [op("render", 1.0, NOW - 5 * MINUTE), row("feature", NOW - 5 * MINUTE,
                                                             name="x"),
                row("feature", NOW - 4 * MINUTE, name="y")])
    got = series(con, project=PROJECT, metric="events", window_s=window_s, step_s=600,
                 now_ms=NOW)
    point = next(p for p in got["points"] if p["t"] == NOW - 10 * MINUTE)
    assert point["count"] == 3 and point["by_type"] == {"feature": 2, "operation": 1}


@pytest.mark.parametrize("window_s", [3600, 6 * 3600])
def test_operation_filter_picks_one_operation(con: duckdb.DuckDBPyConnection,
                                              window_s: int) -> None:
    """The operation filter limits the operation metric to that name."""
    write(con, [op("render", 1.0, NOW - 5 * MINUTE), op("save", 9.0, NOW - 5 * MINUTE)])
    got = series(con, project=PROJECT, metric="operation", window_s=window_s, step_s=600,
                 now_ms=NOW, operation="save")
    assert sum(p["count"] for p in got["points"]) == 1
    assert max(p["p50"] or 0 for p in got["points"]) == pytest.approx(9.0, rel=0.01)


def test_unknown_metric_is_rejected(con: duckdb.DuckDBPyConnection) -> None:
    """An unknown metric raises UnknownMetric, a ValueError naming the choices."""
    with pytest.raises(UnknownMetric, match="bundle_load"):
        series(con, project=PROJECT, metric="cpu", window_s=3600, step_s=60, now_ms=NOW)
    assert issubclass(UnknownMetric, ValueError)


def test_bad_step_is_rejected(con: duckdb.DuckDBPyConnection) -> None:
    """A step longer than the window raises WindowError."""
    with pytest.raises(WindowError):
        series(con, project=PROJECT, metric="events", window_s=600, step_s=3600, now_ms=NOW)
