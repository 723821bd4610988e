"""Batch aggregation of rows by raw key, before any label or Prometheus work.

Each function takes the rows of one type, a C-level key getter (or None when the metric has no
tag columns) and a C-level measurement getter, and returns one partial result per distinct raw
key. The loops stay in C where the standard library allows (``collections.Counter``,
``sorted``, ``bisect``, ``dict(zip(...))``), so cost per row is a few attribute reads.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

Getter = Callable[[Any], Any]


class Histogram:
    """Cumulative bucket counts (per upper bound; ``+Inf`` is ``count``), sum and count."""

    __slots__ = ("count", "cumulative", "total")

    def __init__(self, cumulative: list[int], total: float, count: int) -> None:
        self.cumulative = cumulative
        self.total = total
        self.count = count

    @classmethod
    def of(cls, values: list[float], bounds: Sequence[float]) -> Histogram:
        """The histogram of ``values`` (sorted in place)."""
        values.sort()
        return cls([bisect_right(values, b) for b in bounds], sum(values), len(values))

    def add(self, other: Histogram) -> None:
        """Merge ``other`` into this histogram."""
        self.cumulative = [a + b for a, b in zip(self.cumulative, other.cumulative, strict=True)]
        self.total += other.total
        self.count += other.count

    def copy(self) -> Histogram:
        """An independent copy."""
        return Histogram(list(self.cumulative), self.total, self.count)


def count(rows: Sequence[Any], key: Getter | None) -> dict[Hashable, float]:
    """Rows per raw key."""
    if key is None:
        return {(): float(len(rows))} if rows else {}
    return {k: float(n) for k, n in Counter(map(key, rows)).items()}


def total(rows: Sequence[Any], key: Getter | None, value: Getter) -> dict[Hashable, float]:
    """Sum of the non-null measurements per raw key."""
    if key is None:
        return {(): float(sum(filter(None, map(value, rows))))} if rows else {}
    sums: dict[Hashable, float] = {}
    get = sums.get
    for k, v in zip(map(key, rows), map(value, rows), strict=True):
        if v is not None:
            sums[k] = get(k, 0.0) + v
    return sums


def last(rows: Sequence[Any], key: Getter | None, value: Getter) -> dict[Hashable, float]:
    """The last non-null measurement per raw key."""
    if key is None:
        values = [v for v in map(value, rows) if v is not None]
        return {(): float(values[-1])} if values else {}
    return {
        k: float(v) for k, v in zip(map(key, rows), map(value, rows), strict=True) if v is not None
    }


def histogram(
    rows: Sequence[Any], key: Getter | None, value: Getter, bounds: Sequence[float]
) -> dict[Hashable, Histogram]:
    """Histogram of the non-null measurements per raw key."""
    if key is None:
        values = [v for v in map(value, rows) if v is not None]
        return {(): Histogram.of(values, bounds)} if values else {}
    groups: defaultdict[Hashable, list[float]] = defaultdict(list)
    for k, v in zip(map(key, rows), map(value, rows), strict=True):
        if v is not None:
            groups[k].append(v)
    return {k: Histogram.of(values, bounds) for k, values in groups.items()}


# -- the same, a column at a time (the commit hook's fast path) ------------------------------

def _raw_keys(grouped: Any, fields: Sequence[str]) -> list[Hashable]:
    """The raw key of each group, as ``attrgetter(*fields)`` gives it for a row."""
    if not fields:
        return [()] * grouped.num_rows
    columns = [grouped[f].to_pylist() for f in fields]
    return columns[0] if len(fields) == 1 else list(zip(*columns, strict=True))


def columnar(table: Any, fields: Sequence[str], value: str | None, mode: str,
             bounds: Sequence[float]) -> dict[Hashable, Any]:
    """:func:`count`, :func:`total`, :func:`last` or :func:`histogram` (``mode``) of an Arrow
    table's rows by their ``fields`` (raw keys as a row's getter gives them)."""
    import pyarrow.compute as pc

    if not table.num_rows:
        return {}
    if mode != "count" and value is not None and table[value].null_count:
        table = table.filter(pc.is_valid(table[value]))
        if not table.num_rows:
            return {}
    keys = list(fields)
    if mode == "count":
        grouped = table.group_by(keys, use_threads=False).aggregate([("type", "count")])
        return {k: float(n) for k, n in zip(_raw_keys(grouped, keys),
                                            grouped["type_count"].to_pylist(), strict=True)}
    assert value is not None
    agg = {"total": "sum", "last": "last", "histogram": "list"}[mode]
    grouped = table.group_by(keys, use_threads=False).aggregate([(value, agg)])
    results = grouped[f"{value}_{agg}"].to_pylist()
    raw = _raw_keys(grouped, keys)
    if mode == "histogram":
        return {k: Histogram.of([float(v) for v in vs], bounds)
                for k, vs in zip(raw, results, strict=True)}
    return {k: float(v) for k, v in zip(raw, results, strict=True)}
