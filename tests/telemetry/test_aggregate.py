"""Tests for wasmwatch.telemetry._aggregate."""

from __future__ import annotations

import math
from operator import itemgetter

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from wasmwatch.telemetry import _aggregate
from wasmwatch.telemetry._aggregate import Histogram

KEY, VALUE = itemgetter(0), itemgetter(1)
ROWS = [("a", 1.0), ("b", 2.0), ("a", None), ("a", 3.0)]


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    """A value equal to a bound falls in that bound's bucket (le)."""
    hist = Histogram.of([10.0, 10.5, 50.0, 9999.0], (10, 50, 100))
    assert (hist.cumulative, hist.count, hist.total) == ([1, 3, 3], 4, 10069.5)


def test_histogram_add_merges() -> None:
    """Adding histograms adds buckets, sums and counts."""
    hist = Histogram.of([1.0], (10,))
    hist.add(Histogram.of([20.0], (10,)))
    assert (hist.cumulative, hist.count, hist.total) == ([1], 2, 21.0)


def test_count_per_key() -> None:
    """count() counts rows per key, or all rows without a key."""
    assert _aggregate.count(ROWS, KEY) == {"a": 3.0, "b": 1.0}
    assert _aggregate.count(ROWS, None) == {(): 4.0}
    assert _aggregate.count([], None) == {}


def test_total_skips_nulls() -> None:
    """total() adds non-null measurements per key."""
    assert _aggregate.total(ROWS, KEY, VALUE) == {"a": 4.0, "b": 2.0}
    assert _aggregate.total(ROWS, None, VALUE) == {(): 6.0}


def test_last_keeps_the_last_non_null() -> None:
    """last() keeps the last non-null measurement per key."""
    assert _aggregate.last(ROWS, KEY, VALUE) == {"a": 3.0, "b": 2.0}
    assert _aggregate.last(ROWS, None, VALUE) == {(): 3.0}


def test_histogram_per_key() -> None:
    """histogram() builds one histogram per key from non-null values."""
    result = _aggregate.histogram(ROWS, KEY, VALUE, (2,))
    assert {k: (h.cumulative, h.count) for k, h in result.items()} == {
        "a": ([1], 2), "b": ([1], 1),
    }


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", None]), st.sampled_from(["x", "y"]),
                          st.one_of(st.none(), st.sampled_from([0.0, 10.0, 50.0, 100.0]),
                                    st.floats(-1e6, 1e6, allow_nan=False))),
                max_size=300),
       st.sampled_from([(10.0, 50.0, 100.0), (0.0,), (5.0, 5000.0)]))
def test_columnar_histogram_equals_the_row_histogram(
        rows: list[tuple[str | None, str, float | None]], bounds: tuple[float, ...]) -> None:
    """The Arrow path (the commit hook's, a bucket per value by searchsorted) gives the row
    path's buckets and counts for every key, values on a bound included, and its sums."""
    table = pa.table({"k": pa.array([r[0] for r in rows], pa.string()),
                      "j": pa.array([r[1] for r in rows], pa.string()),
                      "type": pa.array(["t"] * len(rows), pa.string()),
                      "v": pa.array([r[2] for r in rows], pa.float64())})
    expected = _aggregate.histogram(rows, itemgetter(0, 1), itemgetter(2), bounds)
    got = _aggregate.columnar(table, ["k", "j"], "v", "histogram", bounds)
    assert {k: (h.cumulative, h.count) for k, h in got.items()} == {
        k: (h.cumulative, h.count) for k, h in expected.items()}
    for key, hist in got.items():
        assert math.isclose(hist.total, expected[key].total, rel_tol=1e-9, abs_tol=1e-6)
