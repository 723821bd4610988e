"""Log-bucketed latency histograms (DDSketch-style) with 1 % relative accuracy.

A positive value ``x`` falls in bin ``ceil(log(x) / log(GAMMA))`` with
``GAMMA = (1 + ALPHA) / (1 - ALPHA)``; bin ``i`` holds ``(GAMMA**(i-1), GAMMA**i]`` and stands
for ``2 * GAMMA**i / (GAMMA + 1)``, which is within ``ALPHA`` of every value in it. Zero and
values below :data:`MIN_POSITIVE` share :data:`ZERO_BIN`, which stands for 0.

Histograms merge by adding counts per bin, so the rollup stores ``(bin, count)`` rows and any
window re-aggregates them. :func:`quantiles` reads a merged histogram back the way DuckDB's
``quantile_cont`` (numpy's ``linear``) reads raw values: rank ``q * (n - 1)``, interpolated
between the two neighbouring order statistics. Each neighbour is within ``ALPHA`` of the true
one and the interpolation is a convex combination, so the answer is too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "ALPHA", "GAMMA", "MIN_POSITIVE", "ZERO_BIN", "bin_of", "bin_sql", "bin_values", "quantiles",
]

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LN_GAMMA = math.log(GAMMA)
MIN_POSITIVE = 1e-9
ZERO_BIN = -(2**31) + 1  # below every real bin (ceil(log(1e-9) / LN_GAMMA) is about -1046)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def bin_sql(column: str) -> str:
    """A DuckDB INTEGER expression giving the bin of ``column``."""
    return (
        f"CASE WHEN {column} > {MIN_POSITIVE!r} "
        f"THEN CAST(ceil(ln({column}) / {LN_GAMMA!r}) AS INTEGER) ELSE {ZERO_BIN} END"
    )


def bin_of(value: float) -> int:
    """The bin of one value, as :func:`bin_sql` computes it."""
    return math.ceil(math.log(value) / LN_GAMMA) if value > MIN_POSITIVE else ZERO_BIN


def bin_values(bins: IntArray) -> FloatArray:
    """The value each bin stands for."""
    real = np.where(bins == ZERO_BIN, 0, bins).astype(np.float64)
    return np.where(bins == ZERO_BIN, 0.0, 2.0 * np.power(GAMMA, real) / (GAMMA + 1.0))


def quantiles(bins: IntArray, counts: IntArray, qs: Sequence[float]) -> list[float | None]:
    """Linear-interpolated quantiles of a histogram whose ``bins`` are sorted ascending."""
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1]) if len(cumulative) else 0
    if total <= 0:
        return [None] * len(qs)
    ranks = np.asarray(qs, dtype=np.float64) * (total - 1)
    low = np.floor(ranks).astype(np.int64)
    high = np.minimum(low + 1, total - 1)
    values = bin_values(bins)
    v_low = values[np.searchsorted(cumulative, low, side="right")]
    v_high = values[np.searchsorted(cumulative, high, side="right")]
    return [float(v) for v in v_low + (ranks - low) * (v_high - v_low)]
