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

import bisect
import itertools
import math
from collections.abc import Sequence

__all__ = [
    "ALPHA", "GAMMA", "MIN_POSITIVE", "ZERO_BIN", "bin_of", "bin_sql", "bin_value", "quantiles",
]

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LN_GAMMA = math.log(GAMMA)
MIN_POSITIVE = 1e-9
ZERO_BIN = -(2**31) + 1  # below every real bin (ceil(log(1e-9) / LN_GAMMA) is about -1046)



def bin_sql(column: str) -> str:
    """A DuckDB INTEGER expression giving the bin of ``column``."""
    return (
        f"CASE WHEN {column} > {MIN_POSITIVE!r} "
        f"THEN CAST(ceil(ln({column}) / {LN_GAMMA!r}) AS INTEGER) ELSE {ZERO_BIN} END"
    )


def bin_of(value: float) -> int:
    """The bin of one value, as :func:`bin_sql` computes it."""
    return math.ceil(math.log(value) / LN_GAMMA) if value > MIN_POSITIVE else ZERO_BIN


def bin_value(bin_: int) -> float:
    """The value a bin stands for."""
    return 0.0 if bin_ == ZERO_BIN else 2.0 * GAMMA**bin_ / (GAMMA + 1.0)


def quantiles(bins: Sequence[int], counts: Sequence[int], qs: Sequence[float]) -> list[float | None]:
    """Linear-interpolated quantiles of a histogram whose ``bins`` are sorted ascending.

    Plain Python on purpose: a merged histogram has at most a few hundred bins, and the server
    then needs no array library.
    """
    cumulative = list(itertools.accumulate(counts))
    total = cumulative[-1] if cumulative else 0
    if total <= 0:
        return [None] * len(qs)
    out: list[float | None] = []
    for q in qs:
        rank = q * (total - 1)
        low = math.floor(rank)
        high = min(low + 1, total - 1)
        v_low = bin_value(bins[bisect.bisect_right(cumulative, low)])
        v_high = bin_value(bins[bisect.bisect_right(cumulative, high)])
        out.append(v_low + (rank - low) * (v_high - v_low))
    return out
