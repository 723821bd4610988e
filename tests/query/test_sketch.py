"""Log-bucketed histograms: bins, bin values and quantiles within 1 %."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wasmwatch.query.sketch import (
    ALPHA,
    GAMMA,
    ZERO_BIN,
    bin_of,
    bin_sql,
    bin_value,
    quantiles,
)

TOLERANCE = ALPHA * (1 + 1e-9)  # 1 %, plus float rounding at bin edges


def _histogram(values: np.ndarray) -> tuple[list[int], list[int]]:
    bins, counts = np.unique([bin_of(float(v)) for v in values], return_counts=True)
    return [int(b) for b in bins], [int(c) for c in counts]


def test_sql_bins_match_python_bins() -> None:
    """DuckDB's bin expression puts values in the same bins as bin_of."""
    values = [0.0, 1e-12, 1e-9, 1e-6, 0.05, 0.1, 1.0, GAMMA, 12.5, 999.9, 60_000.0]
    rows = duckdb.sql(f"SELECT x, {bin_sql('x')} FROM unnest(?) t(x)",
                      params=[values]).fetchall()
    assert {x: b for x, b in rows} == {x: bin_of(x) for x in values}


def test_zero_and_tiny_values_share_the_zero_bin() -> None:
    """0 and values below MIN_POSITIVE fall in the zero bin, which stands for 0."""
    assert bin_of(0.0) == bin_of(1e-10) == ZERO_BIN
    assert bin_value(ZERO_BIN) == 0.0


@pytest.mark.parametrize("value", [1e-6, 0.013, 1.0, 3.7, 250.0, 59_999.0])
def test_bin_value_is_within_alpha_of_its_values(value: float) -> None:
    """Every value, and the edges of its bin, are within 1 % of the bin's value."""
    index = bin_of(value)
    rep = bin_value(index)
    for x in (value, GAMMA ** index, GAMMA ** (index - 1) * (1 + 1e-12)):
        assert abs(rep - x) / x <= TOLERANCE


def test_quantiles_of_nothing_are_none() -> None:
    """An empty histogram has no quantiles."""
    assert quantiles([], [], (0.5, 0.99)) == [None, None]


def test_quantiles_of_one_bin_are_its_value() -> None:
    """All values in one bin give that bin's value at every quantile."""
    p50, p99 = quantiles([100], [7], (0.5, 0.99))
    assert p50 == p99 == pytest.approx(2 * GAMMA ** 100 / (GAMMA + 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 60_000.0)), min_size=1, max_size=300),
       st.floats(0.0, 1.0))
def test_quantiles_are_within_one_percent_of_numpy(values: list[float], q: float) -> None:
    """Histogram quantiles are within 1 % of numpy.percentile (linear) over the raw values."""
    data = np.array(values)
    (estimate,) = quantiles(*_histogram(data), (q,))
    exact = float(np.percentile(data, q * 100))
    assert estimate is not None
    assert abs(estimate - exact) <= TOLERANCE * exact + 1e-12
